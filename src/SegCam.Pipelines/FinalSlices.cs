using SegCam.Cam.Methods;
using SegCam.Volumes;

namespace SegCam.Pipelines;

/// <summary>
/// Heatmap k-slices [0, <see cref="Count"/>) of <see cref="Heatmaps"/> are final: explained, or exactly zero because
/// they were skipped or lie outside the slice range. Later slices are still being written (each slice is its own
/// buffer, so reading the final ones meanwhile is safe). <see cref="Layer"/> is the resolved target layer.
/// </summary>
public sealed record FinalSlices(int Count, string Layer, IReadOnlyDictionary<CamMethod, Volume> Heatmaps);
