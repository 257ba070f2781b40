using System.Text.Json;
using SegCam.Cam.Models;
using SegCam.Volumes;
using SegCam.Volumes.Formats;

namespace SegCam.Cli.Tests;

/// <summary><c>segcam phantom</c>, <c>segment</c> and <c>evaluate</c> run in-process on real files.</summary>
public sealed class VolumeCommandTests
{
    private static Task<(int Code, string Out, string Err)> Run(params string[] args) => CliRun.RunAsync(args);

    private static string Temp() => Directory.CreateTempSubdirectory("segcam-vol-").FullName;

    [Fact]
    public async Task Phantom_writes_a_ct_and_labels_on_one_grid()
    {
        var dir = Temp();
        var (code, _, err) = await Run("phantom", "--out-ct", Path.Combine(dir, "ct.mha"), "--out-labels", Path.Combine(dir, "labels.mha"), "--seed", "3", "--size", "64,64,12", "--spacing", "5,5,6", "--tumour-probability", "1");
        Assert.True(code == 0, err);
        var ct = VolumeFile.Read(Path.Combine(dir, "ct.mha"), cancellationToken: TestContext.Current.CancellationToken);
        var labels = VolumeFile.Read(Path.Combine(dir, "labels.mha"), cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(ct.Geometry.SameGrid(labels.Geometry));
        Assert.Equal(VoxelType.Int16, ct.Type);
        Assert.Contains(Enumerable.Range(0, 12), k => labels.Slice<byte>(k).Contains((byte)2));
    }

    [Fact]
    public async Task Segment_writes_the_label_map_with_the_input_geometry()
    {
        var dir = Temp();
        var model = Path.Combine(dir, "unet.onnx");
        File.Copy(Path.Combine(RepoPaths.Fixtures, "models", "unet2d_bn.onnx"), model);
        new ModelCard { Id = "unet", Dimensionality = 2, InputSize = [48, 40], Classes = ["background", "kidney", "tumour"] }.Save(ModelCard.SidecarPath(model));
        var (code, _, err) = await Run("phantom", "--out-ct", Path.Combine(dir, "ct.npy"), "--out-labels", Path.Combine(dir, "l.npy"), "--size", "80,96,3", "--spacing", "4,4,5");
        Assert.True(code == 0, err);
        (code, var output, err) = await Run("segment", "--model", model, "--input", Path.Combine(dir, "ct.npy"), "--out", Path.Combine(dir, "seg.mha"), "--batch", "2");
        Assert.True(code == 0, err);
        Assert.Contains("0 background, 1 kidney, 2 tumour", output, StringComparison.Ordinal);
        Assert.Contains("segment 3/3", err, StringComparison.Ordinal);
        var seg = VolumeFile.Read(Path.Combine(dir, "seg.mha"), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(new Volumes.Geometry.GridSize(80, 96, 3), seg.Geometry.Size);
        Assert.Equal(VoxelType.UInt8, seg.Type);
        Assert.All(Enumerable.Range(0, 3).SelectMany(k => seg.Slice<byte>(k).ToArray()), v => Assert.InRange(v, (byte)0, (byte)2));
    }

    [Fact]
    public async Task Model_without_a_card_is_refused_with_the_card_path()
    {
        var dir = Temp();
        var model = Path.Combine(dir, "bare.onnx");
        File.Copy(Path.Combine(RepoPaths.Fixtures, "models", "unet2d_bn.onnx"), model);
        var (code, _, err) = await Run("segment", "--model", model, "--input", Path.Combine(dir, "x.npy"), "--out", Path.Combine(dir, "seg.mha"));
        Assert.Equal(4, code);
        Assert.Contains("bare.segcam.json", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Segment_reads_a_dicom_series_folder()
    {
        var series = Path.Combine(RepoPaths.Fixtures, "dicom", "series_oblique");
        if (!Directory.Exists("/usr/lib/cli/gdcm-sharp-3.0"))
        {
            Assert.Skip("libgdcm-cil not installed (apt-get install libgdcm-cil)");
        }

        var dir = Temp();
        var model = Path.Combine(dir, "unet.onnx");
        File.Copy(Path.Combine(RepoPaths.Fixtures, "models", "unet2d_bn.onnx"), model);
        new ModelCard { Id = "unet", Dimensionality = 2, InputSize = [48, 40], Classes = ["background", "kidney", "tumour"] }.Save(ModelCard.SidecarPath(model));
        var (code, _, err) = await Run("segment", "--model", model, "--input", series, "--out", Path.Combine(dir, "seg.nii.gz"));
        Assert.True(code == 0, err);
        var ct = VolumeFile.Read(series, cancellationToken: TestContext.Current.CancellationToken);
        var seg = VolumeFile.Read(Path.Combine(dir, "seg.nii.gz"), cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(seg.Geometry.SameGrid(ct.Geometry, 1e-3), $"{seg.Geometry} vs {ct.Geometry}");
    }

    [Fact]
    public async Task Evaluate_scores_a_heatmap_against_a_label()
    {
        var dir = Temp();
        var g = Volumes.Geometry.VolumeGeometry.Identity(new Volumes.Geometry.GridSize(4, 1, 1));
        var heat = new Volume(g, VoxelType.Float32);
        var labels = new Volume(g, VoxelType.UInt8);
        float[] h = [0.9f, 0.1f, 0.4f, 0f];
        h.CopyTo(heat.Slice<float>(0));
        byte[] l = [2, 1, 2, 0];
        l.CopyTo(labels.Slice<byte>(0));
        VolumeFile.Write(heat, Path.Combine(dir, "h.mha"), TestContext.Current.CancellationToken);
        VolumeFile.Write(labels, Path.Combine(dir, "l.mha"), TestContext.Current.CancellationToken);
        var (code, output, err) = await Run("evaluate", "--heatmap", Path.Combine(dir, "h.mha"), "--mask", Path.Combine(dir, "l.mha"), "--label", "2", "--json");
        Assert.True(code == 0, err);
        var row = JsonDocument.Parse(output).RootElement[0];

        // Energy inside = (0.9 + 0.4) / (0.9 + 0.1 + 0.4) = 13/14; ranking 0.9 (in), 0.4 (in) first → AP = 1.
        Assert.Equal(13.0 / 14, row.GetProperty("energy_inside").GetDouble(), 6); // float32 heatmap values
        Assert.Equal(1.0, row.GetProperty("auprc").GetDouble(), 12);
    }

    [Fact]
    public async Task Demo_writes_heatmaps_on_the_ct_grid_a_montage_and_metrics()
    {
        var dir = Temp();
        var (code, output, err) = await Run("demo", "--out", dir, "--seed", "7");
        Assert.True(code == 0, err);
        Assert.Contains("mean Dice", output, StringComparison.Ordinal);
        var ct = VolumeFile.Read(Path.Combine(dir, "ct.nii.gz"), cancellationToken: TestContext.Current.CancellationToken);
        foreach (var name in new[] { "seg-hires-grad-cam.nii.gz", "seg-hires-grad-cam.nrrd", "seg-grad-cam.nii.gz", "segmentation.nii.gz", "labels-truth.nii.gz" })
        {
            var v = VolumeFile.Read(Path.Combine(dir, name), cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(v.Geometry.SameGrid(ct.Geometry), $"{name}: {v.Geometry} vs {ct.Geometry}");
        }

        var png = await File.ReadAllBytesAsync(Path.Combine(dir, "montage.png"), TestContext.Current.CancellationToken);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        using var metrics = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "metrics.json"), TestContext.Current.CancellationToken));
        Assert.Equal(2, metrics.RootElement.GetProperty("heatmaps").GetArrayLength());
        Assert.True(metrics.RootElement.GetProperty("segmentation_dice").GetProperty("kidney").GetDouble() > 0.5, "the demo model finds the kidneys");
    }

    [Fact]
    public async Task Cam_on_a_volume_writes_one_heatmap_per_method_on_the_image_grid()
    {
        var dir = Temp();
        var model = Path.Combine(dir, "unet.onnx");
        File.Copy(Path.Combine(RepoPaths.Fixtures, "models", "unet2d_bn.onnx"), model);
        new ModelCard { Id = "unet", Dimensionality = 2, InputSize = [48, 40], Classes = ["background", "kidney", "tumour"] }.Save(ModelCard.SidecarPath(model));
        var (code, _, err) = await Run("phantom", "--out-ct", Path.Combine(dir, "ct.nrrd"), "--out-labels", Path.Combine(dir, "labels.nii.gz"), "--size", "80,96,4", "--spacing", "4,4,5", "--tumour-probability", "1", "--seed", "2");
        Assert.True(code == 0, err);
        (code, var output, err) = await Run("cam", "--model", model, "--input", Path.Combine(dir, "ct.nrrd"), "--class", "tumour", "--labels", Path.Combine(dir, "labels.nii.gz"), "--label", "2",
            "--method", "seg-hires-grad-cam,seg-grad-cam", "--normalize", "max", "--out", Path.Combine(dir, "heat.nii.gz"));
        Assert.True(code == 0, err);
        Assert.Contains("class tumour", output, StringComparison.Ordinal);
        var ct = VolumeFile.Read(Path.Combine(dir, "ct.nrrd"), cancellationToken: TestContext.Current.CancellationToken);
        foreach (var id in new[] { "seg-hires-grad-cam", "seg-grad-cam" })
        {
            var heat = VolumeFile.Read(Path.Combine(dir, $"heat.{id}.nii.gz"), cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(heat.Geometry.SameGrid(ct.Geometry), $"{id}: {heat.Geometry}");
            Assert.Equal(VoxelType.Float32, heat.Type);
        }

        // Coronal slices of the same volume: 4 × 80 planes resampled to 48 × 40, explained where the tumour is.
        (code, output, err) = await Run("cam", "--model", model, "--input", Path.Combine(dir, "ct.nrrd"), "--class", "tumour", "--labels", Path.Combine(dir, "labels.nii.gz"), "--label", "2",
            "--slice-axis", "coronal", "--out", Path.Combine(dir, "coronal.nii.gz"));
        Assert.True(code == 0, err);
        var coronal = VolumeFile.Read(Path.Combine(dir, "coronal.nii.gz"), cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(coronal.Geometry.SameGrid(ct.Geometry));
        var explained = int.Parse(output.Split('|')[3].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(explained, 1, 95); // coronal planes are the 96 j-planes; only those crossing the tumour are explained
        (code, _, err) = await Run("cam", "--model", model, "--input", Path.Combine(dir, "ct.nrrd"), "--class", "liver", "--pixel-set", "predicted", "--out", Path.Combine(dir, "x.nii.gz"));
        Assert.Equal(4, code);
        Assert.Contains("2 tumour", err, StringComparison.Ordinal);
        (code, _, err) = await Run("cam", "--model", model, "--input", Path.Combine(dir, "ct.nrrd"), "--class", "1", "--out", Path.Combine(dir, "x.nii.gz"));
        Assert.Equal(2, code);
        Assert.Contains("exactly one pixel set", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Three_d_model_runs_on_sliding_windows_from_the_same_commands()
    {
        var dir = Temp();
        var model = Path.Combine(dir, "unet3d.onnx");
        File.Copy(Path.Combine(RepoPaths.Fixtures, "models", "unet3d_in.onnx"), model);
        new ModelCard { Id = "unet3d", Dimensionality = 3, InputSize = [16, 20, 24], Classes = ["background", "organ"] }.Save(ModelCard.SidecarPath(model));
        var (code, _, err) = await Run("phantom", "--out-ct", Path.Combine(dir, "ct.mha"), "--out-labels", Path.Combine(dir, "l.mha"), "--size", "40,32,20", "--spacing", "8,8,7");
        Assert.True(code == 0, err);
        (code, _, err) = await Run("segment", "--model", model, "--input", Path.Combine(dir, "ct.mha"), "--out", Path.Combine(dir, "seg.nrrd"));
        Assert.True(code == 0, err);
        (code, var output, err) = await Run("cam", "--model", model, "--input", Path.Combine(dir, "ct.mha"), "--class", "organ", "--bbox", "10,8,5:20,16,10", "--out", Path.Combine(dir, "heat.nii.gz"));
        Assert.True(code == 0, err);
        Assert.Contains("skipped", output, StringComparison.Ordinal);
        var ct = VolumeFile.Read(Path.Combine(dir, "ct.mha"), cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(VolumeFile.Read(Path.Combine(dir, "seg.nrrd"), cancellationToken: TestContext.Current.CancellationToken).Geometry.SameGrid(ct.Geometry));
        Assert.True(VolumeFile.Read(Path.Combine(dir, "heat.nii.gz"), cancellationToken: TestContext.Current.CancellationToken).Geometry.SameGrid(ct.Geometry));
    }

    [Fact]
    public async Task Evaluate_with_a_model_adds_deletion_and_insertion_curves()
    {
        var dir = Temp();
        var model = Path.Combine(dir, "unet.onnx");
        File.Copy(Path.Combine(RepoPaths.Fixtures, "models", "unet2d_bn.onnx"), model);
        new ModelCard { Id = "unet", Dimensionality = 2, InputSize = [48, 40], Classes = ["background", "kidney", "tumour"] }.Save(ModelCard.SidecarPath(model));
        var (code, _, err) = await Run("phantom", "--out-ct", Path.Combine(dir, "ct.nii.gz"), "--out-labels", Path.Combine(dir, "l.nii.gz"), "--size", "40,48,3", "--spacing", "8,8,9", "--tumour-probability", "1", "--seed", "4");
        Assert.True(code == 0, err);
        (code, _, err) = await Run("cam", "--model", model, "--input", Path.Combine(dir, "ct.nii.gz"), "--class", "kidney", "--labels", Path.Combine(dir, "l.nii.gz"), "--label", "1", "--out", Path.Combine(dir, "h.nii.gz"));
        Assert.True(code == 0, err);
        (code, var output, err) = await Run("evaluate", "--heatmap", Path.Combine(dir, "h.nii.gz"), "--mask", Path.Combine(dir, "l.nii.gz"), "--label", "1",
            "--model", model, "--image", Path.Combine(dir, "ct.nii.gz"), "--class", "kidney", "--curve-steps", "4", "--json");
        Assert.True(code == 0, err);
        var row = JsonDocument.Parse(output).RootElement[0];
        Assert.True(double.IsFinite(row.GetProperty("deletion_auc").GetDouble()));
        Assert.True(double.IsFinite(row.GetProperty("insertion_auc").GetDouble()));
    }
}
