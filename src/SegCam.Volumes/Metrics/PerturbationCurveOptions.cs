namespace SegCam.Volumes.Metrics;

/// <summary>
/// How many points a deletion or insertion curve has (<see cref="DeletionInsertion"/>). Either <see cref="Steps"/>
/// equal steps in percent of the voxels, or, when <see cref="VoxelsPerStep"/> is set, RISE's schedule of a fixed
/// number of voxels per step (METHODS.md §4.4; eclique/RISE <c>CausalMetric</c>).
/// </summary>
public sealed record PerturbationCurveOptions
{
    /// <summary>The default number of steps.</summary>
    public const int DefaultSteps = 20;

    /// <summary>
    /// n: the curve has n + 1 points at x_i = i/n, i = 0…n, where point i has the first ⌈i·|Ω|/n⌉ ranked voxels changed
    /// (k% for k = 0, 100/n, …, 100). Must be at least 1. When n &gt; |Ω| neighbouring points can change the same number
    /// of voxels; they are still evaluated. Ignored when <see cref="VoxelsPerStep"/> is set.
    /// </summary>
    public int Steps { get; init; } = DefaultSteps;

    /// <summary>
    /// s: when set, point i changes the first min(i·s, |Ω|) ranked voxels, i = 0…n with n = ⌈|Ω|/s⌉, and x_i = i/n
    /// (RISE's uniform spacing, so the last step may be partial). METHODS.md §4.4's default is s = ⌈|Ω|/100⌉.
    /// Must be at least 1.
    /// </summary>
    public int? VoxelsPerStep { get; init; }
}
