using SegCam.Common.Errors;
using SegCam.Volumes.Metrics;

namespace SegCam.Volumes.Tests.Metrics;

public sealed class HeatmapMetricsTests
{
    private const double Tolerance = 1e-12;

    [Fact]
    public void Energy_fraction_is_positive_energy_inside_over_positive_energy_overall()
    {
        // max(h, 0) = 2, 0, 3, 0, 5 → total 10; inside the mask (indices 0, 1, 4): 2 + 0 + 5 = 7 → 7/10.
        float[] heatmap = [2, -1, 3, 0, 5];
        bool[] mask = [true, true, false, false, true];
        var result = HeatmapMetrics.EnergyFraction(heatmap, mask);
        Assert.Equal(0.7, result.Value!.Value, Tolerance);
        Assert.Equal(MetricFlags.None, result.Flags);
        Assert.Equal(result, HeatmapMetrics.EnergyFraction(heatmap.Select(v => (double)v).ToArray(), mask));
    }

    [Fact]
    public void Energy_fraction_of_an_all_non_positive_heatmap_is_null_with_a_flag()
    {
        var result = HeatmapMetrics.EnergyFraction([-1f, 0f, -2f], [true, false, false]);
        Assert.Null(result.Value);
        Assert.False(result.IsDefined);
        Assert.Equal(MetricFlags.NoPositiveEnergy, result.Flags);
    }

    [Fact]
    public void Every_metric_is_null_with_empty_mask_flag_when_the_mask_is_empty()
    {
        float[] heatmap = [1, 2, 3];
        bool[] mask = [false, false, false];
        foreach (var result in new[] { HeatmapMetrics.EnergyFraction(heatmap, mask), HeatmapMetrics.MeanDice(heatmap, mask), HeatmapMetrics.AveragePrecision(heatmap, mask) })
        {
            Assert.Null(result.Value);
            Assert.True(result.Flags.HasFlag(MetricFlags.EmptyMask));
        }
    }

    [Fact]
    public void Mean_dice_matches_a_hand_computed_case()
    {
        // minmax: Hn = 0, 0.5, 1, 1 → H8 = ⌊255·Hn⌋ = 0, 127 (⌊127.5⌋), 255, 255. A = {1, 2}, |A| = 2.
        // t = 0…126 (127 thresholds): B_t = {1, 2, 3}, |A∩B_t| = 2 → Dice = 2·2/(2+3) = 0.8.
        // t = 127…254 (128 thresholds): B_t = {2, 3}, |A∩B_t| = 1 → Dice = 2·1/(2+2) = 0.5.
        // t = 255: B_t = ∅ → 0.  mean-Dice = (127·0.8 + 128·0.5)/256 = 165.6/256 = 0.646875.
        var result = HeatmapMetrics.MeanDice([0f, 0.5f, 1f, 1f], [false, true, true, false]);
        Assert.Equal(0.646875, result.Value!.Value, Tolerance);
        Assert.Equal(MetricFlags.None, result.Flags);
    }

    [Fact]
    public void Mean_dice_is_at_most_255_over_256_because_t_255_predicts_nothing()
    {
        // H8 = 0, 255; A = {1}. t = 0…254: B_t = {1} = A → Dice 1; t = 255: B_t = ∅ → 0. Mean = 255/256.
        var result = HeatmapMetrics.MeanDice([-3.0, 7.0], [false, true]);
        Assert.Equal(255.0 / 256.0, result.Value!.Value, Tolerance);
    }

    [Fact]
    public void Mean_dice_ignores_scale_and_shift_through_min_max()
    {
        // Same H8 levels as the hand-computed case: 10 + 4·h.
        var result = HeatmapMetrics.MeanDice([10f, 12f, 14f, 14f], [false, true, true, false]);
        Assert.Equal(0.646875, result.Value!.Value, Tolerance);
    }

    [Fact]
    public void Mean_dice_of_a_constant_heatmap_is_zero_and_flagged()
    {
        // Exact min-max maps a constant map to 0 everywhere, so every B_t is empty: Dice(A, ∅) = 0 for |A| = 1.
        var result = HeatmapMetrics.MeanDice([3f, 3f, 3f], [true, false, false]);
        Assert.Equal(0.0, result.Value);
        Assert.Equal(MetricFlags.ConstantHeatmap, result.Flags);
    }

    [Fact]
    public void Average_precision_matches_a_hand_computed_case_with_a_tie()
    {
        // Scores 0.9 (in), 0.8 (out), 0.8 (in), 0.3 (out), 0.1 (in); 3 positives. Thresholds, highest first:
        // 0.9: TP 1, FP 0 → R 1/3, P 1   → (1/3 − 0)·1     = 1/3
        // 0.8: TP 2, FP 1 → R 2/3, P 2/3 → (2/3 − 1/3)·2/3 = 2/9   (the tie is one step)
        // 0.3: TP 2, FP 2 → R 2/3        → 0
        // 0.1: TP 3, FP 2 → R 1,   P 3/5 → (1 − 2/3)·3/5   = 1/5
        // AP = 1/3 + 2/9 + 1/5 = 34/45 (sklearn: 0.7555555555555555).
        var result = HeatmapMetrics.AveragePrecision([0.9f, 0.8f, 0.8f, 0.3f, 0.1f], [true, false, true, false, true]);
        Assert.Equal(34.0 / 45.0, result.Value!.Value, Tolerance);
    }

    [Fact]
    public void Average_precision_of_a_constant_heatmap_is_the_mask_fraction()
    {
        // One threshold: TP 1, FP 3 → R 1, P 1/4 → AP = 1/4.
        var result = HeatmapMetrics.AveragePrecision([2f, 2f, 2f, 2f], [true, false, false, false]);
        Assert.Equal(0.25, result.Value!.Value, Tolerance);
        Assert.Equal(MetricFlags.ConstantHeatmap, result.Flags);
    }

    [Fact]
    public void Average_precision_decides_ties_on_the_min_max_normalised_scores()
    {
        // 0 and 1 differ, but 0 − (−1e17) and 1 − (−1e17) both round to 1e17, so Hn = 0, 0.5, 0.5, 1 (METHODS.md §4.3
        // scores Hn). Thresholds: 1: TP 1, FP 0 → R 1/2, P 1 → 1/2; 0.5: TP 2, FP 1 → R 1, P 2/3 → 1/3. AP = 5/6
        // (sklearn on Hn: 0.8333333333333333; on the raw scores it would be 1).
        var result = HeatmapMetrics.AveragePrecision([-1e17, 0.0, 1.0, 1e17], [false, false, true, true]);
        Assert.Equal(5.0 / 6.0, result.Value!.Value, Tolerance);
    }

    [Fact]
    public void Average_precision_of_a_quarter_million_voxels_matches_the_closed_form()
    {
        // Large enough that an O(n²) walk would not finish. Distinct scores, positives exactly the top half: precision stays 1 → AP = 1. The lower half in the mask
        // instead: the first positive comes after all n/2 negatives, and P_k = k/(n/2 + k) at recall k/(n/2).
        const int n = 1 << 18;
        var heatmap = new float[n];
        var top = new bool[n];
        var bottom = new bool[n];
        for (var q = 0; q < n; q++)
        {
            heatmap[q] = q;
            top[q] = q >= n / 2;
            bottom[q] = q < n / 2;
        }

        Assert.Equal(1.0, HeatmapMetrics.AveragePrecision(heatmap, top).Value!.Value, Tolerance);
        var expected = 0.0;
        for (var k = 1; k <= n / 2; k++)
        {
            expected += (double)k / ((n / 2) + k);
        }

        Assert.Equal(expected / (n / 2), HeatmapMetrics.AveragePrecision(heatmap, bottom).Value!.Value, 1e-9);
    }

    [Fact]
    public void Mismatched_lengths_are_rejected_naming_both()
    {
        var ex = Assert.Throws<InvalidRequestException>(() => HeatmapMetrics.MeanDice([1f, 2f, 3f], [true, false, true, false]));
        Assert.Contains("3 values", ex.Message, StringComparison.Ordinal);
        Assert.Contains("mask has 4", ex.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidRequestException>(() => HeatmapMetrics.EnergyFraction([1f], [true, true]));
        Assert.Throws<InvalidRequestException>(() => HeatmapMetrics.AveragePrecision([1.0, 2.0], [true]));
    }

    [Fact]
    public void Empty_input_is_rejected()
    {
        var ex = Assert.Throws<InvalidRequestException>(() => HeatmapMetrics.AveragePrecision(ReadOnlySpan<float>.Empty, ReadOnlySpan<bool>.Empty));
        Assert.Contains("empty", ex.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidRequestException>(() => HeatmapMetrics.EnergyFraction(ReadOnlySpan<double>.Empty, ReadOnlySpan<bool>.Empty));
        Assert.Throws<InvalidRequestException>(() => HeatmapMetrics.MeanDice(ReadOnlySpan<float>.Empty, ReadOnlySpan<bool>.Empty));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Non_finite_heatmap_values_are_rejected_naming_the_index(float bad)
    {
        float[] heatmap = [0.1f, 0.2f, bad, 0.4f];
        bool[] mask = [true, false, false, true];
        foreach (var metric in new Func<MetricResult>[]
        {
            () => HeatmapMetrics.EnergyFraction(heatmap, mask),
            () => HeatmapMetrics.MeanDice(heatmap, mask),
            () => HeatmapMetrics.AveragePrecision(heatmap, mask),
        })
        {
            var ex = Assert.Throws<InvalidRequestException>(() => metric());
            Assert.Contains("flat index 2", ex.Message, StringComparison.Ordinal);
        }
    }
}
