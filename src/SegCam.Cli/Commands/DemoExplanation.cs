using SegCam.Cam.Execution;
using SegCam.Cam.Methods;
using SegCam.Client;
using SegCam.Pipelines;
using SegCam.Volumes;
using SegCam.Volumes.Phantoms;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Cli.Commands;

/// <summary>
/// The demo's computation — segment the phantom, explain the predicted tumour (or, when the model predicts none, the
/// ground-truth tumour, and say so) with Seg-HiRes-Grad CAM and Seg-Grad CAM, max-normalised over the volume — in
/// process or on a SegCam server.
/// </summary>
internal sealed record DemoExplanation(IReadOnlyDictionary<CamMethod, Volume> Heatmaps, Volume Segmentation, string Layer, int Computed, int Skipped, string PixelSet)
{
    private const string Predicted = "the model's predicted tumour";
    private const string Truth = "the ground-truth tumour (the model predicted none)";
    private static readonly CamMethod[] Methods = [CamMethod.SegHiResGradCam, CamMethod.SegGradCam];

    public static DemoExplanation Local(CamEngine engine, string modelId, int tumour, Volume ct, Volume truth, IProgress<PipelineProgress> progress, CancellationToken cancellationToken)
    {
        var (model, card) = ModelLocator.Load(modelId);
        var pipeline = VolumePipelines.For(engine, model, card);
        var request = new VolumeCamRequest
        {
            Class = tumour,
            PixelSet = VolumePixelSet.Predicted(),
            Methods = Methods,
            Normalization = CamNormalization.Max,
            NormalizationScope = NormalizationScope.Volume,
        };
        var result = pipeline.Run(ct, request, progress, cancellationToken);
        var segmentation = result.Segmentation!;
        var pixelSet = Predicted;
        if (result.SlicesComputed == 0)
        {
            pixelSet = Truth;
            result = pipeline.Run(ct, request with { PixelSet = VolumePixelSet.Label(truth, AbdominalPhantom.Tumour) }, progress, cancellationToken);
        }

        return new DemoExplanation(result.Heatmaps, segmentation, result.Layer, result.SlicesComputed, result.SlicesSkipped, pixelSet);
    }

    public static async Task<DemoExplanation> RemoteAsync(SegCamClient client, string modelId, Volume ct, Volume truth, IProgress<Proto.Progress> progress, CancellationToken cancellationToken)
    {
        var ctId = (await client.UploadAsync(ct, "demo-ct", cancellationToken).ConfigureAwait(false)).VolumeId;
        var (segmentation, _) = await client.SegmentAsync(new Proto.SegmentRequest { Volume = new Proto.VolumeSource { VolumeId = ctId }, Model = modelId }, progress, cancellationToken).ConfigureAwait(false);
        var request = new Proto.ComputeCamRequest
        {
            Volume = new Proto.VolumeSource { VolumeId = ctId },
            Model = modelId,
            TargetClass = "tumour",
            PixelSet = new Proto.PixelSet { Predicted = new Proto.PredictedPixels() },
            Options = new Proto.CamOptions { Normalization = Proto.Normalization.Max, NormalizationScope = Proto.NormalizationScope.Volume },
        };
        request.Methods.Add(Methods.Select(m => m.Id()));
        var result = await client.ComputeCamAsync(request, progress, null, cancellationToken).ConfigureAwait(false);
        var pixelSet = Predicted;
        if (result.Summary.UnitsComputed == 0)
        {
            pixelSet = Truth;
            var truthId = (await client.UploadAsync(truth, "demo-truth", cancellationToken).ConfigureAwait(false)).VolumeId;
            request.PixelSet = new Proto.PixelSet { Label = new Proto.LabelPixels { LabelVolumeId = truthId, Label = AbdominalPhantom.Tumour } };
            result = await client.ComputeCamAsync(request, progress, null, cancellationToken).ConfigureAwait(false);
        }

        var heatmaps = result.Heatmaps.ToDictionary(h => CamMethodNames.Parse(h.Method), h => h.Volume);
        return new DemoExplanation(heatmaps, segmentation, result.Summary.Layers[0], result.Summary.UnitsComputed, result.Summary.UnitsSkipped, pixelSet);
    }
}
