using System.Numerics;

namespace SegCam.Volumes.Metrics;

/// <summary>
/// The order in which deletion and insertion change voxels (METHODS.md §4.4): heatmap value descending, ties by
/// ascending flat index, so the order is fully determined. O(|Ω| log |Ω|).
/// </summary>
internal static class HeatmapRanking
{
    /// <summary>Flat indices of <paramref name="scores"/> in rank order; sorts <paramref name="scores"/> in place.</summary>
    public static int[] Rank<T>(T[] scores)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var order = new int[scores.Length];
        for (var q = 0; q < order.Length; q++)
        {
            order[q] = q;
        }

        // The primitive key/item sort is fast but unstable: sort ascending, reverse to descending, then put each run
        // of equal values (−0 and +0 count as equal) back in index order.
        Array.Sort(scores, order);
        Array.Reverse(scores);
        Array.Reverse(order);
        for (var start = 0; start < scores.Length;)
        {
            var end = start + 1;
            while (end < scores.Length && scores[end] == scores[start])
            {
                end++;
            }

            if (end - start > 1)
            {
                Array.Sort(order, start, end - start);
            }

            start = end;
        }

        return order;
    }
}
