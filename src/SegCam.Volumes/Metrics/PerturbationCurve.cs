namespace SegCam.Volumes.Metrics;

/// <summary>A deletion or insertion curve and its area (METHODS.md §4.4; Petsiuk et al. 2018, RISE).</summary>
public sealed class PerturbationCurve
{
    internal PerturbationCurve(IReadOnlyList<PerturbationCurvePoint> points)
    {
        Points = points;
        var n = points.Count - 1;
        var sum = 0.0;
        foreach (var point in points)
        {
            sum += point.Score;
        }

        // Trapezoid rule over uniformly spaced x_i = i/n in [0, 1]: (Σ_i y_i − y_0/2 − y_n/2)/n (RISE's auc).
        Area = (sum - (points[0].Score / 2) - (points[n].Score / 2)) / n;
    }

    /// <summary>The n + 1 points, from nothing changed (x = 0) to every voxel changed (x = 1).</summary>
    public IReadOnlyList<PerturbationCurvePoint> Points { get; }

    /// <summary>
    /// Area under the curve by the trapezoid rule over x ∈ [0, 1], in the units of the score (not normalised by the
    /// first or last score). Lower is better for deletion, higher for insertion.
    /// </summary>
    public double Area { get; }
}
