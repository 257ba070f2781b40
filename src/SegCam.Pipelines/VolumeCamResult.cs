using SegCam.Cam.Methods;
using SegCam.Volumes;

namespace SegCam.Pipelines;

/// <summary>The heatmaps of one target layer, one float32 volume per method on the image's grid.</summary>
public sealed record LayerHeatmaps(string Layer, IReadOnlyDictionary<CamMethod, Volume> Heatmaps);

/// <summary>Heatmap volumes on the image's grid, one per method (and layer), and what the pipeline did.</summary>
public sealed record VolumeCamResult
{
    /// <summary>Every layer's heatmaps, in request order (the first layer's are also <see cref="Heatmaps"/>).</summary>
    public required IReadOnlyList<LayerHeatmaps> ByLayer { get; init; }

    /// <summary>Float32 heatmaps of the first layer, aligned voxel for voxel with the image.</summary>
    public required IReadOnlyDictionary<CamMethod, Volume> Heatmaps { get; init; }

    /// <summary>The model's label map (argmax) on the image grid, when a segmentation pass ran.</summary>
    public Volume? Segmentation { get; init; }

    /// <summary>Slices the engine explained.</summary>
    public int SlicesComputed { get; init; }

    /// <summary>Slices skipped because their pixel set was empty (heatmap exactly zero).</summary>
    public int SlicesSkipped { get; init; }

    /// <summary>Voxels in the pixel set within the explained slices (0: every heatmap is all zero).</summary>
    public long PixelSetVoxels { get; init; }

    /// <summary>The target layer used.</summary>
    public required string Layer { get; init; }

    /// <summary>Wall time.</summary>
    public TimeSpan Elapsed { get; init; }
}
