using System.Numerics;

namespace SegCam.Volumes.Metrics;

/// <summary>
/// Quality metrics of a heatmap H against a binary mask B on the same grid Ω (docs/METHODS.md §4): the fraction of
/// positive energy inside the mask (§4.1), mean-Dice (seed 001 eq. 9; §4.2) and pixel-wise average precision
/// (seed 003; §4.3).
/// </summary>
/// <remarks>
/// The span overloads take the voxels flattened in any fixed order (a 2-D slice, a 3-D volume or one batch item);
/// the mask has one value per voxel, in the same order. The <see cref="Volume"/> overloads read slice by slice.
/// Every overload throws <see cref="SegCam.Common.Errors.InvalidRequestException"/> for an empty heatmap, a mask of
/// another length, or a NaN or infinite heatmap value (the message names its index). An undefined metric is a
/// <see cref="MetricResult"/> with a null value and a flag, never NaN.
/// </remarks>
public static partial class HeatmapMetrics
{
    /// <summary>
    /// Fraction of positive heatmap energy inside the mask (METHODS.md §4.1): E = Σ_q B[q]·max(H[q], 0) / Σ_q max(H[q], 0),
    /// in [0, 1]. Scale-invariant but not shift-invariant: pass the map before any min-max normalisation.
    /// </summary>
    /// <returns>
    /// E; null with <see cref="MetricFlags.NoPositiveEnergy"/> when no value is above 0 (the denominator is 0), and null
    /// with <see cref="MetricFlags.EmptyMask"/> when the mask is empty (METHODS.md §4: an empty mask gives null).
    /// </returns>
    public static MetricResult EnergyFraction(ReadOnlySpan<float> heatmap, ReadOnlySpan<bool> mask) => EnergyFractionCore(heatmap, mask);

    /// <inheritdoc cref="EnergyFraction(ReadOnlySpan{float}, ReadOnlySpan{bool})"/>
    public static MetricResult EnergyFraction(ReadOnlySpan<double> heatmap, ReadOnlySpan<bool> mask) => EnergyFractionCore(heatmap, mask);

    /// <summary>
    /// Mean-Dice of seed 001, eq. 9: mean-Dice(A, B) = (1/256)·Σ_{t=0}^{255} Dice(A, B_t), Dice(A, B) = 2|A∩B| / (|A| + |B|),
    /// where A is the mask and B_t = {q : H8[q] &gt; t} (strictly; H8 ≤ t is background).
    /// </summary>
    /// <remarks>
    /// The paper calls the CAM a gray-value image in [0, 255] but does not say how it was mapped there; as METHODS.md
    /// §3.3 fixes it, H8 = min(255, ⌊255·Hn⌋) with Hn = (H − min H)/(max H − min H) computed in float64 (exact min-max,
    /// §3.2, no ε), and a constant heatmap maps to Hn ≡ 0. Hence t = 255 always gives B_t = ∅ and Dice 0, the largest
    /// possible value is 255/256, and t = 0 leaves out exactly the voxels at the minimum.
    /// Empty sets: an empty B_t against a non-empty mask scores Dice 0 (the formula, |A| &gt; 0). With an empty mask the
    /// metric is not computed at all: the result is null with <see cref="MetricFlags.EmptyMask"/> (METHODS.md §4), so
    /// the 0/0 Dice of two empty sets never arises. A constant heatmap gives 0 with <see cref="MetricFlags.ConstantHeatmap"/>.
    /// Computed with histograms of H8 inside and outside the mask: O(|Ω|).
    /// </remarks>
    public static MetricResult MeanDice(ReadOnlySpan<float> heatmap, ReadOnlySpan<bool> mask) => MeanDiceCore(heatmap, mask);

    /// <inheritdoc cref="MeanDice(ReadOnlySpan{float}, ReadOnlySpan{bool})"/>
    public static MetricResult MeanDice(ReadOnlySpan<double> heatmap, ReadOnlySpan<bool> mask) => MeanDiceCore(heatmap, mask);

    /// <summary>
    /// Pixel-wise area under the precision-recall curve (seed 003: maps normalised to [0, 1] against the binary mask),
    /// as average precision: AP = Σ_n (R_n − R_{n−1})·P_n over the distinct values of Hn = minmax(H) taken as thresholds
    /// in decreasing order (predicted iff Hn ≥ threshold; ties form one step; R_0 = 0; no interpolation, no trapezoid).
    /// Equals <c>sklearn.metrics.average_precision_score(mask, Hn)</c> (METHODS.md §4.3).
    /// </summary>
    /// <remarks>
    /// AP depends only on the order of the scores and their ties, so normalisation matters only where rounding merges
    /// values; ties are decided on float64 Hn to match the reference. Sorts a copy of the scores once: O(|Ω| log |Ω|)
    /// time, one value per voxel of extra memory. Chance level is |mask|/|Ω|; an all-in mask gives 1.
    /// </remarks>
    /// <returns>AP in [0, 1]; null with <see cref="MetricFlags.EmptyMask"/> when the mask is empty (scikit-learn would return 0).</returns>
    public static MetricResult AveragePrecision(ReadOnlySpan<float> heatmap, ReadOnlySpan<bool> mask) => AveragePrecisionCore(heatmap, mask);

    /// <inheritdoc cref="AveragePrecision(ReadOnlySpan{float}, ReadOnlySpan{bool})"/>
    public static MetricResult AveragePrecision(ReadOnlySpan<double> heatmap, ReadOnlySpan<bool> mask) => AveragePrecisionCore(heatmap, mask);

    private static MetricResult EnergyFractionCore<T>(ReadOnlySpan<T> heatmap, ReadOnlySpan<bool> mask)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        MetricInputs.RequireMatchingLengths(heatmap.Length, mask.Length);
        var energy = new EnergyAccumulator();
        energy.Add(heatmap, mask, 0, null);
        return energy.Result();
    }

    private static MetricResult MeanDiceCore<T>(ReadOnlySpan<T> heatmap, ReadOnlySpan<bool> mask)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        MetricInputs.RequireMatchingLengths(heatmap.Length, mask.Length);
        var range = new HeatmapRange();
        range.Add(heatmap, 0, null);
        var dice = new DiceHistogram(range.Scaler());
        dice.Add(heatmap, mask);
        return dice.Result();
    }

    private static MetricResult AveragePrecisionCore<T>(ReadOnlySpan<T> heatmap, ReadOnlySpan<bool> mask)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        MetricInputs.RequireMatchingLengths(heatmap.Length, mask.Length);
        var ap = new AveragePrecisionCollector<T>(mask.Count(true), heatmap.Length);
        ap.Add(heatmap, mask, 0, null);
        return ap.Result();
    }
}
