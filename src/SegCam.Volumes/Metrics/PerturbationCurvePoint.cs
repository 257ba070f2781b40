namespace SegCam.Volumes.Metrics;

/// <summary>One point of a deletion or insertion curve (METHODS.md §4.4).</summary>
/// <param name="Fraction">x_i = i/n in [0, 1], the nominal fraction of voxels changed.</param>
/// <param name="Voxels">How many top-ranked voxels are changed: removed (deletion) or restored (insertion).</param>
/// <param name="Score">The score the callback returned, as it was: nothing is normalised.</param>
public readonly record struct PerturbationCurvePoint(double Fraction, long Voxels, double Score);
