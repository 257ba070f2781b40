using System.Numerics;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Metrics;

/// <summary>
/// Positive energy inside the mask, METHODS.md §4.1: E = Σ_q B[q]·max(H[q], 0) / Σ_q max(H[q], 0), summed in float64
/// in flat index order (so a volume read slice by slice gives the same bits as its flattened copy).
/// </summary>
internal sealed class EnergyAccumulator
{
    private double _inside;
    private double _total;
    private long _maskVoxels;

    public void Add<T>(ReadOnlySpan<T> heatmap, ReadOnlySpan<bool> mask, long offset, GridSize? grid)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var q = 0; q < heatmap.Length; q++)
        {
            var v = MetricInputs.Finite(heatmap[q], offset + q, grid);
            if (mask[q])
            {
                _maskVoxels++;
            }

            if (v > 0)
            {
                _total += v;
                if (mask[q])
                {
                    _inside += v;
                }
            }
        }
    }

    public MetricResult Result()
    {
        var flags = (_maskVoxels == 0 ? MetricFlags.EmptyMask : MetricFlags.None) | (_total > 0 ? MetricFlags.None : MetricFlags.NoPositiveEnergy);
        return flags == MetricFlags.None ? MetricResult.Defined(_inside / _total) : MetricResult.Undefined(flags);
    }
}
