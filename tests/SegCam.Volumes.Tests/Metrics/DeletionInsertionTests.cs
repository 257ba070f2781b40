using SegCam.Common.Errors;
using SegCam.Volumes.Metrics;

namespace SegCam.Volumes.Tests.Metrics;

public sealed class DeletionInsertionTests
{
    private const double Tolerance = 1e-12;

    /// <summary>The linear toy score: the sum of the heatmap values that are not removed.</summary>
    private static PerturbedScore Remaining(float[] heatmap) => removed =>
    {
        double sum = 0;
        for (var q = 0; q < heatmap.Length; q++)
        {
            if (!removed[q])
            {
                sum += heatmap[q];
            }
        }

        return sum;
    };

    [Fact]
    public void Deletion_of_a_linear_score_removes_the_largest_values_first()
    {
        // Values 1…10 in shuffled positions, 10 steps: step i removes the i largest, so
        // y_i = 55 − Σ_{j<i} (10 − j) = 55 − 10i + i(i−1)/2 = 55, 45, 36, 28, 21, 15, 10, 6, 3, 1, 0 (Σ = 220),
        // and the trapezoid area is (220 − 55/2 − 0/2)/10 = 19.25.
        float[] heatmap = [3, 9, 1, 10, 6, 2, 8, 4, 7, 5];
        var curve = DeletionInsertion.Deletion(heatmap, Remaining(heatmap), new PerturbationCurveOptions { Steps = 10 }, TestContext.Current.CancellationToken);
        Assert.Equal(11, curve.Points.Count);
        for (var i = 0; i <= 10; i++)
        {
            Assert.Equal(55 - (10 * i) + (i * (i - 1) / 2), curve.Points[i].Score, Tolerance);
            Assert.Equal(i / 10.0, curve.Points[i].Fraction, Tolerance);
            Assert.Equal(i, curve.Points[i].Voxels);
        }

        Assert.Equal(19.25, curve.Area, Tolerance);
    }

    [Fact]
    public void Insertion_of_a_linear_score_restores_the_largest_values_first()
    {
        // Mirror of the deletion case: y_i = 10i − i(i−1)/2 = 0, 10, 19, 27, 34, 40, 45, 49, 52, 54, 55 (Σ = 385),
        // area (385 − 0/2 − 55/2)/10 = 35.75; deletion + insertion = 55 at every point and in area.
        float[] heatmap = [3, 9, 1, 10, 6, 2, 8, 4, 7, 5];
        var curve = DeletionInsertion.Insertion(heatmap, Remaining(heatmap), new PerturbationCurveOptions { Steps = 10 }, TestContext.Current.CancellationToken);
        for (var i = 0; i <= 10; i++)
        {
            Assert.Equal((10 * i) - (i * (i - 1) / 2), curve.Points[i].Score, Tolerance);
        }

        Assert.Equal(35.75, curve.Area, Tolerance);
    }

    [Fact]
    public void Default_schedule_has_20_steps_of_five_percent()
    {
        // h_q = q, N = 1000: step i removes the top ⌈1000·i/20⌉ = 50i values, leaving 0 … m−1 with m = 1000 − 50i,
        // so y_i = m(m−1)/2. Area = (Σ_i y_i − y_0/2 − y_20/2)/20.
        const int n = 1000;
        var heatmap = Enumerable.Range(0, n).Select(q => (float)q).ToArray();
        var curve = DeletionInsertion.Deletion(heatmap, Remaining(heatmap), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(PerturbationCurveOptions.DefaultSteps + 1, curve.Points.Count);
        double sum = 0;
        for (var i = 0; i <= 20; i++)
        {
            double m = n - (50 * i);
            Assert.Equal(m * (m - 1) / 2, curve.Points[i].Score, Tolerance);
            Assert.Equal(50L * i, curve.Points[i].Voxels);
            sum += m * (m - 1) / 2;
        }

        Assert.Equal((sum - (n * (n - 1) / 4.0)) / 20, curve.Area, 1e-9);
    }

    [Fact]
    public void Steps_round_voxel_counts_up_and_rise_schedule_uses_fixed_voxels_per_step()
    {
        // 10 voxels in 4 steps: ⌈10i/4⌉ = 0, 3, 5, 8, 10. RISE with s = 3: n = ⌈10/3⌉ = 4, min(3i, 10) = 0, 3, 6, 9, 10.
        Assert.Equal([0L, 3, 5, 8, 10], DeletionInsertion.Schedule(10, new PerturbationCurveOptions { Steps = 4 }));
        Assert.Equal([0L, 3, 6, 9, 10], DeletionInsertion.Schedule(10, new PerturbationCurveOptions { VoxelsPerStep = 3 }));

        float[] heatmap = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        var curve = DeletionInsertion.Deletion(heatmap, Remaining(heatmap), new PerturbationCurveOptions { VoxelsPerStep = 3 }, TestContext.Current.CancellationToken);

        // Remaining sums 55, 55−27 = 28, 28−18 = 10, 10−9 = 1, 0 at x = 0, 1/4, 1/2, 3/4, 1;
        // area = (55 + 28 + 10 + 1 + 0 − 55/2 − 0)/4 = 66.5/4 = 16.625.
        Assert.Equal([55.0, 28, 10, 1, 0], curve.Points.Select(p => p.Score));
        Assert.Equal([0.0, 0.25, 0.5, 0.75, 1], curve.Points.Select(p => p.Fraction));
        Assert.Equal(16.625, curve.Area, Tolerance);
    }

    [Fact]
    public void Ties_are_removed_in_ascending_index_order()
    {
        // Ranking: 3 at index 1, 3 at index 2, 2 at index 3, 1 at index 0 (and −0 ties +0 by index: 4 before 5).
        double[] heatmap = [1, 3, 3, 2, 0.0, -0.0];
        var seen = new List<bool[]>();
        DeletionInsertion.Deletion(heatmap, removed => { seen.Add(removed.ToArray()); return 0; }, new PerturbationCurveOptions { Steps = 6 }, TestContext.Current.CancellationToken);
        int[] expectedOrder = [1, 2, 3, 0, 4, 5];
        Assert.Equal(7, seen.Count);
        for (var i = 0; i <= 6; i++)
        {
            var expected = new bool[6];
            foreach (var q in expectedOrder.Take(i))
            {
                expected[q] = true;
            }

            Assert.Equal(expected, seen[i]);
        }
    }

    [Fact]
    public void Insertion_starts_with_everything_removed()
    {
        var seen = new List<bool[]>();
        DeletionInsertion.Insertion([5f, 1f, 3f], removed => { seen.Add(removed.ToArray()); return 0; }, new PerturbationCurveOptions { Steps = 3 }, TestContext.Current.CancellationToken);
        Assert.Equal([true, true, true], seen[0]);
        Assert.Equal([false, true, true], seen[1]);
        Assert.Equal([false, true, false], seen[2]);
        Assert.Equal([false, false, false], seen[3]);
    }

    [Fact]
    public void Cancellation_is_checked_between_steps()
    {
        using var cts = new CancellationTokenSource();
        var calls = 0;
        Assert.Throws<OperationCanceledException>(() => DeletionInsertion.Deletion(
            [1f, 2f, 3f, 4f],
            _ =>
            {
                if (++calls == 2)
                {
                    cts.Cancel();
                }

                return 0;
            },
            new PerturbationCurveOptions { Steps = 4 },
            cts.Token));
        Assert.Equal(2, calls);
    }

    [Fact]
    public void Invalid_inputs_are_rejected()
    {
        static double Zero(ReadOnlySpan<bool> removed) => 0;
        var ct = TestContext.Current.CancellationToken;
        Assert.Throws<InvalidRequestException>(() => DeletionInsertion.Deletion(ReadOnlySpan<float>.Empty, Zero, cancellationToken: ct));
        var nan = Assert.Throws<InvalidRequestException>(() => DeletionInsertion.Insertion([1f, float.NaN], Zero, cancellationToken: ct));
        Assert.Contains("flat index 1", nan.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidRequestException>(() => DeletionInsertion.Deletion([1f, 2f], Zero, new PerturbationCurveOptions { Steps = 0 }, ct));
        Assert.Throws<InvalidRequestException>(() => DeletionInsertion.Deletion([1f, 2f], Zero, new PerturbationCurveOptions { VoxelsPerStep = 0 }, ct));
        var badScore = Assert.Throws<InvalidRequestException>(() => DeletionInsertion.Deletion([1f, 2f], _ => double.NaN, cancellationToken: ct));
        Assert.Contains("step 0", badScore.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => DeletionInsertion.Deletion([1f, 2f], null!, cancellationToken: ct));
    }
}
