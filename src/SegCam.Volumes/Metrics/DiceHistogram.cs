using System.Numerics;

namespace SegCam.Volumes.Metrics;

/// <summary>
/// Mean-Dice of seed 001, eq. 9, as METHODS.md §4.2 pins it: H8 = min(255, ⌊255·Hn⌋) with Hn the exact min-max map
/// (§3.3), B_t = {q : H8[q] &gt; t}, Dice_t = 2|A∩B_t| / (|A| + |B_t|), mean-Dice = (1/256)·Σ_{t=0}^{255} Dice_t.
/// Counts H8 levels inside and outside the mask, then sums cumulatively from level 255 down: O(|Ω| + 256).
/// </summary>
internal sealed class DiceHistogram
{
    private const int Levels = 256;

    private readonly long[] _inside = new long[Levels];
    private readonly long[] _all = new long[Levels];
    private readonly MinMaxScaler _scaler;

    public DiceHistogram(MinMaxScaler scaler) => _scaler = scaler;

    /// <summary>The 8-bit level of one value: ⌊255·Hn⌋, capped at 255 (METHODS.md §3.3; truncation, like np.uint8(255·x)).</summary>
    public static int Level(double normalised) => Math.Min(Levels - 1, (int)Math.Floor(255.0 * normalised));

    /// <summary>Counts the levels of values already checked to be finite (by <see cref="HeatmapRange"/>).</summary>
    public void Add<T>(ReadOnlySpan<T> heatmap, ReadOnlySpan<bool> mask)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var q = 0; q < heatmap.Length; q++)
        {
            var level = Level(_scaler.Scale(double.CreateTruncating(heatmap[q])));
            _all[level]++;
            if (mask[q])
            {
                _inside[level]++;
            }
        }
    }

    public MetricResult Result()
    {
        long maskVoxels = 0;
        foreach (var count in _inside)
        {
            maskVoxels += count;
        }

        if (maskVoxels == 0)
        {
            return MetricResult.Undefined(MetricFlags.EmptyMask);
        }

        // At threshold t, B_t holds the levels above t. Going from t = 255 (B_255 = ∅, Dice 0) down to t = 0, add
        // level t+1 before scoring t. |A| > 0, so no denominator is zero; an empty B_t with a non-empty A scores 0.
        double sum = 0;
        long predicted = 0, overlap = 0;
        for (var t = Levels - 1; t >= 0; t--)
        {
            if (t < Levels - 1)
            {
                predicted += _all[t + 1];
                overlap += _inside[t + 1];
            }

            sum += 2.0 * overlap / (maskVoxels + predicted);
        }

        return MetricResult.Defined(sum / Levels, _scaler.IsConstant ? MetricFlags.ConstantHeatmap : MetricFlags.None);
    }
}
