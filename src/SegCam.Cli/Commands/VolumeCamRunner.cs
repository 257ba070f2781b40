using SegCam.Cam.Execution;
using SegCam.Cam.Methods;
using SegCam.Pipelines;
using SegCam.Pipelines.Slicing;
using SegCam.Volumes.Formats;

namespace SegCam.Cli.Commands;

/// <summary>
/// <c>segcam cam</c> on an image volume (any image format or a DICOM folder): the slice-wise pipeline with the
/// model card's preprocessing; heatmap volumes are written with the input's geometry.
/// </summary>
internal sealed record VolumeCamArguments(
    string Model, string Input, string Class, string Output, IReadOnlyList<CamMethod> Methods, string? Layer,
    string? Labels, int? Label, string? PixelSet, string? Box, string? Pixel, CamTarget Target, bool Relu,
    CamNormalization Normalization, NormalizationScope Scope, int XResWindow, XResPool XResPool, CamPrecision Precision, int Batch, ExecutionDevice Device,
    string? SliceAxis = null);

/// <summary>Runs <see cref="VolumeCamArguments"/>.</summary>
internal static class VolumeCamRunner
{
    public static async Task<int> RunAsync(VolumeCamArguments a, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var (model, card) = ModelLocator.Load(a.Model);
        var image = VolumeFile.Read(a.Input, cancellationToken: cancellationToken);
        var pixelSet = PixelSetOf(a, image.Geometry.Size);
        var request = new VolumeCamRequest
        {
            Class = card.ClassIndex(a.Class),
            PixelSet = pixelSet,
            Methods = a.Methods,
            Layer = a.Layer,
            Target = a.Target,
            Relu = a.Relu,
            Normalization = a.Normalization,
            NormalizationScope = a.Scope,
            XResWindow = a.XResWindow,
            XResPool = a.XResPool,
            Precision = a.Precision,
            BatchSize = a.Batch,
            Axis = a.SliceAxis is null ? null : SliceAxes.Parse(a.SliceAxis),
        };
        using var engine = new CamEngine(a.Device, msg => stderr.WriteLine($"segcam: {msg}"));
        var result = VolumePipelines.For(engine, model, card).Run(image, request, ProgressPrinter.To(stderr), cancellationToken);
        var written = new List<string>();
        foreach (var (method, heatmap) in result.Heatmaps)
        {
            var path = a.Methods.Count == 1 ? a.Output : WithMethod(a.Output, method.Id());
            VolumeFile.Write(heatmap, path, cancellationToken);
            written.Add(path);
        }

        if (result.Segmentation is { } segmentation)
        {
            var path = WithMethod(a.Output, "segmentation");
            VolumeFile.Write(segmentation, path, cancellationToken);
            written.Add(path);
        }

        await stdout.WriteLineAsync($"model {card.Id} | class {card.Classes[request.Class]} | layer {result.Layer} | {result.SlicesComputed} {(card.Dimensionality == 3 ? "patches" : "slices")} explained, {result.SlicesSkipped} skipped (empty pixel set) | {result.Elapsed.TotalSeconds:F1} s").ConfigureAwait(false);
        foreach (var path in written)
        {
            await stdout.WriteLineAsync($"wrote {path}").ConfigureAwait(false);
        }

        return 0;
    }

    /// <summary>OUT.nii.gz → OUT.&lt;id&gt;.nii.gz: the id goes before the format's (possibly double) extension.</summary>
    internal static string WithMethod(string path, string id)
    {
        var name = Path.GetFileName(path);
        var extension = VolumeFile.FormatOf(path).Extensions.Where(e => name.EndsWith(e, StringComparison.OrdinalIgnoreCase)).MaxBy(e => e.Length)!;
        return Path.Combine(Path.GetDirectoryName(path) ?? string.Empty, $"{name[..^extension.Length]}.{id}{name[^extension.Length..]}");
    }

    private static VolumePixelSet PixelSetOf(VolumeCamArguments a, Volumes.Geometry.GridSize size) => CliPixelSet.Parse(a) switch
    {
        CliPixelSet.LabelMap m => VolumePixelSet.Label(VolumeFile.Read(m.Path), m.Label),
        CliPixelSet.PredictedRegion => VolumePixelSet.Predicted(),
        CliPixelSet.Everything => VolumePixelSet.Box((0, 0, 0), (size.I, size.J, size.K)),
        CliPixelSet.VoxelBox b => VolumePixelSet.Box(b.Min, b.Max),
        CliPixelSet.Voxel v => VolumePixelSet.Points([v.Ijk]),
        var other => throw new InvalidOperationException($"unhandled pixel set {other}"),
    };
}
