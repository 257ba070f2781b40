using System.Numerics;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Metrics;

/// <summary>Minimum and maximum of a heatmap fed chunk by chunk (a slice at a time); rejects NaN and infinities.</summary>
internal sealed class HeatmapRange
{
    private double _min = double.PositiveInfinity;
    private double _max = double.NegativeInfinity;

    /// <summary>Takes the values of <paramref name="heatmap"/>, whose first element has flat index <paramref name="offset"/>.</summary>
    public void Add<T>(ReadOnlySpan<T> heatmap, long offset, GridSize? grid)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var q = 0; q < heatmap.Length; q++)
        {
            var v = MetricInputs.Finite(heatmap[q], offset + q, grid);
            _min = Math.Min(_min, v);
            _max = Math.Max(_max, v);
        }
    }

    /// <summary>The exact min-max map of the values seen so far (METHODS.md §3.2).</summary>
    public MinMaxScaler Scaler() => new(_min, _max);
}
