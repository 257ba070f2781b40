namespace SegCam.Pipelines;

/// <summary>
/// Heatmap k-slices [0, <see cref="Count"/>) of every heatmap in <see cref="Layers"/> are final: explained, or exactly zero because
/// they were skipped or lie outside the slice range. Later slices are still being written (each slice is its own
/// buffer, so reading the final ones meanwhile is safe).
/// </summary>
public sealed record FinalSlices(int Count, IReadOnlyList<LayerHeatmaps> Layers);
