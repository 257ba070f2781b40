namespace SegCam.Volumes.Metrics;

/// <summary>
/// Why a heatmap metric is undefined, or a degenerate input behind a defined value (docs/METHODS.md §3.2, §4).
/// Hosts map these to the protocol's flags (<c>EMPTY_MASK</c>, <c>ZERO_MAP</c>).
/// </summary>
[Flags]
public enum MetricFlags
{
    /// <summary>Nothing to report.</summary>
    None = 0,

    /// <summary>The mask holds no voxel: every metric of METHODS.md §4 is then undefined (<c>EMPTY_MASK</c>).</summary>
    EmptyMask = 1,

    /// <summary>No heatmap value is above zero, so the energy fraction (METHODS.md §4.1) has a zero denominator.</summary>
    NoPositiveEnergy = 2,

    /// <summary>
    /// Every heatmap value is the same: exact min-max normalisation (METHODS.md §3.2) gives all zeros (<c>ZERO_MAP</c>).
    /// Mean-Dice is then 0; average precision is still defined (one threshold, precision |mask|/|Ω|).
    /// </summary>
    ConstantHeatmap = 4,
}
