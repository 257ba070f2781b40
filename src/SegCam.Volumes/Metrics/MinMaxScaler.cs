namespace SegCam.Volumes.Metrics;

/// <summary>
/// Exact min-max normalisation, METHODS.md §3.2: Hn = (H − min H)/(max H − min H) if max &gt; min, otherwise 0,
/// evaluated in float64 in this order so that NumPy's <c>(h - mn) / (mx - mn)</c> gives the same bits.
/// Each step (a subtraction, a division by a positive constant) is monotone under round-to-nearest, so the map never
/// reverses an order; it can only merge neighbouring values into ties.
/// </summary>
internal readonly struct MinMaxScaler
{
    private readonly double _min;
    private readonly double _range;

    public MinMaxScaler(double min, double max)
    {
        _min = min;
        _range = max - min;
    }

    /// <summary>True when every value is the same (the range is zero): then everything maps to 0.</summary>
    public bool IsConstant => !(_range > 0);

    public double Scale(double value) => IsConstant ? 0 : (value - _min) / _range;
}
