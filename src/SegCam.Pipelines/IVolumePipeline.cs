using SegCam.Cam;
using SegCam.Cam.Execution;
using SegCam.Cam.Models;
using SegCam.Volumes;

namespace SegCam.Pipelines;

/// <summary>Volumetric CAMs and segmentation for one model, whatever its dimensionality.</summary>
public interface IVolumePipeline
{
    /// <summary>Heatmap volumes for the request, on the image's grid.</summary>
    VolumeCamResult Run(Volume image, VolumeCamRequest request, IProgress<PipelineProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>The model's label map on the image's grid.</summary>
    Volume Segment(Volume image, int batchSize, IProgress<PipelineProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>The target score S = Σ_{p ∈ M} y_c[p] (logits) of <paramref name="image"/>, for deletion/insertion curves.</summary>
    double Score(Volume image, int classIndex, VolumePixelSet pixelSet, CancellationToken cancellationToken = default);
}

/// <summary>Picks the pipeline a model card calls for: slice-wise for 2-D models, sliding windows for 3-D ones.</summary>
public static class VolumePipelines
{
    public static IVolumePipeline For(CamEngine engine, SegmentationModel model, ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(card);
        return card.Dimensionality == 3 ? new SlidingWindowCamPipeline(engine, model, card) : new SliceWiseCamPipeline(engine, model, card);
    }
}
