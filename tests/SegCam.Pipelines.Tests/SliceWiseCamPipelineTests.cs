using SegCam.Cam;
using SegCam.Cam.Execution;
using SegCam.Cam.Methods;
using SegCam.Cam.Models;
using SegCam.Cam.PixelSets;
using SegCam.Common.Errors;
using SegCam.Common.Tensors;
using SegCam.Pipelines.Slicing;
using SegCam.Volumes;
using SegCam.Volumes.Geometry;

namespace SegCam.Pipelines.Tests;

/// <summary>The slice-wise pipeline against direct per-slice engine runs on the fixture 2-D U-Net (input 48×40, 3 classes).</summary>
public sealed class SliceWiseCamPipelineTests : IDisposable
{
    internal static readonly string Fixtures = FindFixtures();
    private static readonly SegmentationModel UNet = SegmentationModel.Load(Path.Combine(Fixtures, "models", "unet2d_bn.onnx"));
    private static readonly float[] Plane = NpyFile.Read(Path.Combine(Fixtures, "cases", "unet2d_bn-bottleneck-mask", "input.npy")).ToFloat32();
    private static readonly ModelCard Card = new()
    {
        Id = "unet2d-bn",
        Dimensionality = 2,
        InputSize = [48, 40],
        Classes = ["background", "kidney", "tumour"],
        DefaultLayer = "bottleneck",
    };

    private readonly CamEngine _engine = new();

    public void Dispose() => _engine.Dispose();

    // Slice k holds the fixture image shifted by k pixels (so slices differ), on an oblique grid.
    private static Volume Image(int i, int j, int slices)
    {
        var g = new VolumeGeometry(new GridSize(i, j, slices), new Vector3(0.8, 0.8, 2.5), new Vector3(-10, 4, 7), Direction3.Identity);
        var v = new Volume(g, VoxelType.Float32);
        for (var k = 0; k < slices; k++)
        {
            var s = v.Slice<float>(k);
            for (var y = 0; y < j; y++)
            {
                for (var x = 0; x < i; x++)
                {
                    s[(y * i) + x] = Plane[(((y * 48 / j) + k) % 48 * 40) + (x * 40 / i)];
                }
            }
        }

        return v;
    }

    private static Volume Blob(VolumeGeometry g, params int[] slices)
    {
        var labels = new Volume(g, VoxelType.UInt8);
        foreach (var k in slices)
        {
            for (var y = 0; y < g.Size.J; y++)
            {
                for (var x = 0; x < g.Size.I; x++)
                {
                    var dy = (y - (g.Size.J * 0.45)) / (g.Size.J * 0.2);
                    var dx = (x - (g.Size.I * 0.5)) / (g.Size.I * 0.25);
                    labels[x, y, k] = (dx * dx) + (dy * dy) <= 1 ? 1 : 0;
                }
            }
        }

        return labels;
    }

    private static readonly CamMethod[] Methods = [CamMethod.SegHiResGradCam, CamMethod.SegGradCam];

    [Fact]
    public void Volume_heatmaps_equal_per_slice_engine_results_and_empty_slices_are_zero()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(40, 48, 5);
        var labels = Blob(image.Geometry, 1, 3);
        var pipeline = new SliceWiseCamPipeline(_engine, UNet, Card);
        var result = pipeline.Run(image, new VolumeCamRequest { Class = 1, PixelSet = VolumePixelSet.Label(labels, 1), Methods = Methods, BatchSize = 2 }, cancellationToken: ct);

        Assert.Equal(2, result.SlicesComputed);
        Assert.Equal(3, result.SlicesSkipped);
        foreach (var k in new[] { 1, 3 })
        {
            var mask = new bool[48 * 40];
            for (var p = 0; p < mask.Length; p++)
            {
                mask[p] = labels.Slice<byte>(k)[p] == 1;
            }

            var direct = _engine.Compute(UNet, new CamRequest
            {
                Input = image.Slice<float>(k).ToArray(),
                InputShape = [1, 1, 48, 40],
                Class = 1,
                PixelSet = PixelSet.FromMask(mask, [48, 40]),
                Layer = "bottleneck",
                Options = new CamOptions { Methods = Methods, Resolution = CamResolution.Input },
            }, ct);
            foreach (var method in Methods)
            {
                AssertClose(direct.Maps[method], result.Heatmaps[method].Slice<float>(k).ToArray(), $"{method} slice {k}");
            }
        }

        foreach (var k in new[] { 0, 2, 4 })
        {
            Assert.All(result.Heatmaps[CamMethod.SegHiResGradCam].Slice<float>(k).ToArray(), v => Assert.Equal(0f, v));
        }

        Assert.Equal(image.Geometry, result.Heatmaps[CamMethod.SegHiResGradCam].Geometry);
    }

    [Fact]
    public void Activation_resolution_shows_the_layers_own_grid_as_blocks_on_the_image()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(40, 48, 3);
        var labels = Blob(image.Geometry, 1, 1);
        var result = new SliceWiseCamPipeline(_engine, UNet, Card).Run(image, new VolumeCamRequest
        {
            Class = 1,
            PixelSet = VolumePixelSet.Label(labels, 1),
            Methods = [CamMethod.SegGradCam],
            Resolution = CamResolution.Activation,
        }, cancellationToken: ct);

        var mask = new bool[48 * 40];
        for (var p = 0; p < mask.Length; p++)
        {
            mask[p] = labels.Slice<byte>(1)[p] == 1;
        }

        var direct = _engine.Compute(UNet, new CamRequest
        {
            Input = image.Slice<float>(1).ToArray(),
            InputShape = [1, 1, 48, 40],
            Class = 1,
            PixelSet = PixelSet.FromMask(mask, [48, 40]),
            Layer = "bottleneck",
            Options = new CamOptions { Methods = [CamMethod.SegGradCam], Resolution = CamResolution.Activation },
        }, ct);
        var (rows, columns) = ((int)direct.MapShape[1], (int)direct.MapShape[2]);
        Assert.True(rows < 48 && columns < 40, "the bottleneck grid is coarser than the image");
        var blocks = new float[48 * 40];
        for (var y = 0; y < 48; y++)
        {
            for (var x = 0; x < 40; x++)
            {
                blocks[(y * 40) + x] = direct.Maps[CamMethod.SegGradCam][((y / (48 / rows)) * columns) + (x / (40 / columns))];
            }
        }

        AssertClose(blocks, result.Heatmaps[CamMethod.SegGradCam].Slice<float>(1).ToArray(), "activation-grid blocks");
    }

    [Fact]
    public void Slices_of_another_size_are_resampled_to_the_model_grid_and_back()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(80, 96, 2);
        var box = VolumePixelSet.Box((30, 40, 0), (50, 60, 2));
        var result = new SliceWiseCamPipeline(_engine, UNet, Card).Run(image, new VolumeCamRequest { Class = 2, PixelSet = box, Methods = Methods, BatchSize = 2 }, cancellationToken: ct);

        var small = new float[48 * 40];
        PlaneResampler.Bilinear(image.Slice<float>(1), 96, 80, small, 48, 40);
        var boxMask = new bool[96 * 80];
        for (var y = 40; y < 60; y++)
        {
            for (var x = 30; x < 50; x++)
            {
                boxMask[(y * 80) + x] = true;
            }
        }

        var mask = new bool[48 * 40];
        PlaneResampler.Cover(boxMask, 96, 80, mask, 48, 40);
        var direct = _engine.Compute(UNet, new CamRequest
        {
            Input = small,
            InputShape = [1, 1, 48, 40],
            Class = 2,
            PixelSet = PixelSet.FromMask(mask, [48, 40]),
            Layer = "bottleneck",
            Options = new CamOptions { Methods = Methods, Resolution = CamResolution.Input },
        }, ct);
        var back = new float[96 * 80];
        PlaneResampler.Bilinear(direct.Maps[CamMethod.SegHiResGradCam], 48, 40, back, 96, 80);
        AssertClose(back, result.Heatmaps[CamMethod.SegHiResGradCam].Slice<float>(1).ToArray(), "resampled slice");
    }

    [Fact]
    public void Predicted_pixel_set_segments_first_and_explains_only_slices_with_the_class()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(40, 48, 3);
        var pipeline = new SliceWiseCamPipeline(_engine, UNet, Card);
        var result = pipeline.Run(image, new VolumeCamRequest { Class = 1, PixelSet = VolumePixelSet.Predicted(), Methods = Methods, BatchSize = 3 }, cancellationToken: ct);
        Assert.NotNull(result.Segmentation);

        var computed = 0;
        for (var k = 0; k < 3; k++)
        {
            var logits = _engine.Infer(UNet, image.Slice<float>(k).ToArray(), [1, 1, 48, 40], out _, ct);
            var hasClass = false;
            for (var p = 0; p < 48 * 40; p++)
            {
                var best = Enumerable.Range(0, 3).MaxBy(c => logits[(c * 48 * 40) + p]);
                Assert.Equal(best, result.Segmentation!.Slice<byte>(k)[p]);
                hasClass |= best == 1;
            }

            computed += hasClass ? 1 : 0;
            if (!hasClass)
            {
                Assert.All(result.Heatmaps[CamMethod.SegHiResGradCam].Slice<float>(k).ToArray(), v => Assert.Equal(0f, v));
            }
        }

        Assert.Equal(computed, result.SlicesComputed);
    }

    [Fact]
    public void Volume_normalisation_scales_all_slices_together_and_slice_normalisation_each()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(40, 48, 4);
        var labels = Blob(image.Geometry, 0, 2, 3);
        var pipeline = new SliceWiseCamPipeline(_engine, UNet, Card);
        var request = new VolumeCamRequest { Class = 1, PixelSet = VolumePixelSet.Label(labels, 1), Normalization = CamNormalization.Max, BatchSize = 4 };
        var global = pipeline.Run(image, request, cancellationToken: ct).Heatmaps[CamMethod.SegHiResGradCam];
        var perSlice = pipeline.Run(image, request with { NormalizationScope = NormalizationScope.Slice }, cancellationToken: ct).Heatmaps[CamMethod.SegHiResGradCam];
        var maxima = Enumerable.Range(0, 4).Select(k => global.Slice<float>(k).ToArray().Max()).ToArray();
        Assert.Equal(1f, maxima.Max(), 5);
        Assert.Equal(0f, maxima[1]);
        foreach (var k in new[] { 0, 2, 3 })
        {
            var slice = perSlice.Slice<float>(k).ToArray();
            Assert.Equal(1f, slice.Max(), 5);
            var g = global.Slice<float>(k).ToArray();
            var ratio = g.Max() / slice.Max();
            Assert.All(slice.Zip(g), p => Assert.Equal(p.Second, p.First * ratio, 4));
        }
    }

    [Fact]
    public void Progress_reaches_the_total_and_cancellation_stops_the_run()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(40, 48, 5);
        var reports = new List<PipelineProgress>();
        var progress = new SynchronousProgress(reports.Add);
        var pipeline = new SliceWiseCamPipeline(_engine, UNet, Card);
        var request = new VolumeCamRequest { Class = 1, PixelSet = VolumePixelSet.Predicted(), BatchSize = 2, SkipEmptySlices = false };
        pipeline.Run(image, request, progress, ct);
        Assert.Equal(["segment", "explain"], reports.Select(r => r.Stage).Distinct());
        Assert.Equal(5, reports.Last().Done);
        Assert.Equal(5, reports.Last().Total);
        Assert.Equal(TimeSpan.Zero, reports.Last().Remaining);

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => pipeline.Run(image, request, cancellationToken: cancelled.Token));
    }

    [Fact]
    public void Bad_requests_name_the_problem()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(40, 48, 2);
        var pipeline = new SliceWiseCamPipeline(_engine, UNet, Card);
        var shifted = new Volume(new VolumeGeometry(image.Geometry.Size, image.Geometry.Spacing, new Vector3(0, 0, 0), Direction3.Identity), VoxelType.UInt8);
        Assert.Throws<GeometryMismatchException>(() => pipeline.Run(image, new VolumeCamRequest { Class = 1, PixelSet = VolumePixelSet.Label(shifted, 1) }, cancellationToken: ct));
        var box = Assert.Throws<InvalidRequestException>(() => pipeline.Run(image, new VolumeCamRequest { Class = 1, PixelSet = VolumePixelSet.Box((0, 0, 0), (41, 10, 1)) }, cancellationToken: ct));
        Assert.Contains("outside", box.Message, StringComparison.Ordinal);
        var cls = Assert.Throws<InvalidRequestException>(() => pipeline.Run(image, new VolumeCamRequest { Class = 3, PixelSet = VolumePixelSet.Predicted() }, cancellationToken: ct));
        Assert.Contains("0..2", cls.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidRequestException>(() => new SliceWiseCamPipeline(_engine, UNet, Card with { Dimensionality = 3, InputSize = [4, 48, 40] }));
    }

    [Fact]
    public void Points_and_runs_mark_the_same_voxels_as_a_label_map()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(40, 48, 2);
        var labels = new Volume(image.Geometry, VoxelType.UInt8);
        (int, int, int)[] points = [(20, 21, 1), (21, 21, 1), (5, 30, 1)];
        foreach (var (i, j, k) in points)
        {
            labels[i, j, k] = 4;
        }

        var pipeline = new SliceWiseCamPipeline(_engine, UNet, Card);
        var viaLabels = pipeline.Run(image, new VolumeCamRequest { Class = 2, PixelSet = VolumePixelSet.Label(labels, 4) }, cancellationToken: ct);
        var viaPoints = pipeline.Run(image, new VolumeCamRequest { Class = 2, PixelSet = VolumePixelSet.Points(points) }, cancellationToken: ct);
        long Flat(int i, int j, int k) => i + (40L * (j + (48L * k)));
        var viaRuns = pipeline.Run(image, new VolumeCamRequest { Class = 2, PixelSet = VolumePixelSet.Runs([(Flat(20, 21, 1), 2), (Flat(5, 30, 1), 1)]) }, cancellationToken: ct);
        Assert.Equal(1, viaPoints.SlicesComputed);
        Assert.True(viaLabels.Heatmaps[CamMethod.SegHiResGradCam].ContentEquals(viaPoints.Heatmaps[CamMethod.SegHiResGradCam]));
        Assert.True(viaLabels.Heatmaps[CamMethod.SegHiResGradCam].ContentEquals(viaRuns.Heatmaps[CamMethod.SegHiResGradCam]));
    }

    [Fact]
    public void Score_is_the_class_logit_summed_over_the_pixel_set()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(40, 48, 3);
        var labels = Blob(image.Geometry, 0, 2);
        var score = new SliceWiseCamPipeline(_engine, UNet, Card).Score(image, 1, VolumePixelSet.Label(labels, 1), ct);
        var expected = 0.0;
        foreach (var k in new[] { 0, 2 })
        {
            var logits = _engine.Infer(UNet, image.Slice<float>(k).ToArray(), [1, 1, 48, 40], out _, ct);
            var mask = labels.Slice<byte>(k);
            for (var p = 0; p < 48 * 40; p++)
            {
                expected += mask[p] == 1 ? logits[(48 * 40) + p] : 0;
            }
        }

        Assert.Equal(expected, score, 3);
    }

    internal static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = expected.Select(Math.Abs).Max();
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(scale > 0, $"{what}: the expected map is all zero, so the comparison would prove nothing");
        Assert.True(worst <= 1e-5 * scale, $"{what}: max diff {worst:E3} vs scale {scale:E3}");
    }

    private static string FindFixtures()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "fixtures");
            if (Directory.Exists(Path.Combine(candidate, "models")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/fixtures not found");
    }

    private sealed class SynchronousProgress(Action<PipelineProgress> report) : IProgress<PipelineProgress>
    {
        public void Report(PipelineProgress value) => report(value);
    }
}
