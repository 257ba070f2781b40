namespace SegCam.Volumes.Metrics;

/// <summary>
/// The value of one heatmap quality metric. <see cref="Value"/> is null, never NaN, when the metric is undefined
/// for the input; <see cref="Flags"/> then says why (docs/METHODS.md §4: "An empty B gives null and flag EMPTY_MASK").
/// </summary>
/// <param name="Value">The metric, or null when it is undefined.</param>
/// <param name="Flags">Degenerate inputs met while computing it.</param>
public readonly record struct MetricResult(double? Value, MetricFlags Flags)
{
    /// <summary>True when <see cref="Value"/> holds a number.</summary>
    public bool IsDefined => Value.HasValue;

    /// <summary>A defined value, with flags for degenerate but well-defined inputs.</summary>
    internal static MetricResult Defined(double value, MetricFlags flags = MetricFlags.None) => new(value, flags);

    /// <summary>An undefined value and the reason.</summary>
    internal static MetricResult Undefined(MetricFlags flags) => new(null, flags);
}
