using System.Numerics;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Metrics;

/// <summary>
/// Pixel-wise average precision (seed 003; METHODS.md §4.3), as scikit-learn's <c>average_precision_score(B, Hn)</c>
/// defines it: AP = Σ_n (R_n − R_{n−1})·P_n over the distinct values of Hn taken as thresholds in decreasing order
/// (a voxel is predicted iff Hn ≥ threshold; tied values form one step; R_0 = 0; no interpolation).
/// The scores in the mask and outside it go to two arrays that are sorted once each (O(|Ω| log |Ω|)) and merged from
/// the top. They are sorted as given; ties are decided on Hn = minmax(H) (exact, float64), which is monotone, so the
/// result is sklearn's on Hn even where rounding in the min-max map merges neighbouring values.
/// </summary>
internal sealed class AveragePrecisionCollector<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _positives;
    private readonly T[] _negatives;
    private readonly HeatmapRange _range = new();
    private int _p;
    private int _n;

    /// <param name="positives">Voxels in the mask.</param>
    /// <param name="voxels">All voxels.</param>
    public AveragePrecisionCollector(int positives, int voxels)
    {
        _positives = new T[positives];
        _negatives = new T[voxels - positives];
    }

    public void Add(ReadOnlySpan<T> heatmap, ReadOnlySpan<bool> mask, long offset, GridSize? grid)
    {
        _range.Add(heatmap, offset, grid);
        for (var q = 0; q < heatmap.Length; q++)
        {
            if (mask[q])
            {
                _positives[_p++] = heatmap[q];
            }
            else
            {
                _negatives[_n++] = heatmap[q];
            }
        }
    }

    public MetricResult Result()
    {
        if (_p != _positives.Length || _n != _negatives.Length)
        {
            throw new InvalidOperationException($"expected {_positives.Length} + {_negatives.Length} scores, got {_p} + {_n}");
        }

        var scaler = _range.Scaler();
        var flags = scaler.IsConstant ? MetricFlags.ConstantHeatmap : MetricFlags.None;
        if (_positives.Length == 0)
        {
            // scikit-learn warns and returns 0 here; METHODS.md §4.3 asks for null.
            return MetricResult.Undefined(flags | MetricFlags.EmptyMask);
        }

        Array.Sort(_positives);
        Array.Sort(_negatives);
        int ip = _positives.Length - 1, ineg = _negatives.Length - 1;
        long truePositives = 0, falsePositives = 0;
        double total = _positives.Length, ap = 0, previousRecall = 0;

        // Walk the thresholds from the highest score down; stop at full recall, after which every step adds 0.
        while (truePositives < _positives.Length)
        {
            var threshold = Math.Max(
                Score(_positives, ip, scaler),
                ineg >= 0 ? Score(_negatives, ineg, scaler) : double.NegativeInfinity);
            while (ip >= 0 && Score(_positives, ip, scaler) == threshold)
            {
                truePositives++;
                ip--;
            }

            while (ineg >= 0 && Score(_negatives, ineg, scaler) == threshold)
            {
                falsePositives++;
                ineg--;
            }

            var recall = truePositives / total;
            var precision = (double)truePositives / (truePositives + falsePositives);
            ap += (recall - previousRecall) * precision;
            previousRecall = recall;
        }

        return MetricResult.Defined(ap, flags);
    }

    private static double Score(T[] sorted, int index, MinMaxScaler scaler)
        => index >= 0 ? scaler.Scale(double.CreateTruncating(sorted[index])) : double.NegativeInfinity;
}
