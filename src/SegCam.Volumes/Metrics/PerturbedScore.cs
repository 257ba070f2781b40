namespace SegCam.Volumes.Metrics;

/// <summary>
/// The target score of the model when the voxels marked in <paramref name="removed"/> are replaced by the caller's
/// baseline (substrate) and every other voxel keeps its value (METHODS.md §4.4: a constant, e.g. 0 in the
/// preprocessed input space, or a blurred copy). <paramref name="removed"/> has one entry per heatmap voxel, in the
/// heatmap's flat order; it is only valid during the call and must not be kept or modified.
/// </summary>
/// <param name="removed">True for voxels currently replaced by the baseline.</param>
/// <returns>The score; it must be finite.</returns>
public delegate double PerturbedScore(ReadOnlySpan<bool> removed);
