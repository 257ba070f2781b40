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

    private static VolumePixelSet PixelSetOf(VolumeCamArguments a, Volumes.Geometry.GridSize size)
    {
        var given = new[] { a.Labels is not null, a.PixelSet is not null, a.Box is not null, a.Pixel is not null }.Count(x => x);
        if (given != 1)
        {
            throw new UsageException("a volume needs exactly one pixel set: --labels FILE --label N, --pixel-set predicted|all, --bbox i,j,k:i,j,k or --pixel i,j,k");
        }

        if (a.Labels is not null)
        {
            var labels = VolumeFile.Read(a.Labels);
            return VolumePixelSet.Label(labels, a.Label ?? throw new UsageException("--labels needs --label N (the label value that forms the pixel set)"));
        }

        if (a.PixelSet is "predicted")
        {
            return VolumePixelSet.Predicted();
        }

        if (a.PixelSet is "all")
        {
            return VolumePixelSet.Box((0, 0, 0), (size.I, size.J, size.K));
        }

        if (a.Box is not null)
        {
            var parts = a.Box.Split(':');
            if (parts.Length != 2)
            {
                throw new UsageException($"--bbox '{a.Box}' must be MIN:MAX with three indices each (i,j,k:i,j,k)");
            }

            var min = CommonOptions.ParseInts(parts[0], "--bbox", 3);
            var max = CommonOptions.ParseInts(parts[1], "--bbox", 3);
            return VolumePixelSet.Box(((int)min[0], (int)min[1], (int)min[2]), ((int)max[0], (int)max[1], (int)max[2]));
        }

        var p = CommonOptions.ParseInts(a.Pixel!, "--pixel", 3);
        return VolumePixelSet.Points([((int)p[0], (int)p[1], (int)p[2])]);
    }
}
