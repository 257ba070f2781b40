using SegCam.Volumes.Metrics;

namespace SegCam.Volumes.Tests.Metrics;

/// <summary>Against tests/fixtures/metrics: scikit-learn's average_precision_score and a NumPy mean-Dice (eq. 9).</summary>
public sealed class HeatmapMetricsFixtureTests
{
    private const double Tolerance = 1e-12;

    public static TheoryData<string> Cases => MetricFixtures.Names();

    [Fact]
    public void Fixtures_cover_ties_all_positive_and_one_positive()
    {
        Assert.Contains(MetricFixtures.Cases, c => c.Name == "ties");
        Assert.Contains(MetricFixtures.Cases, c => c.Positives == c.Mask.Length);
        Assert.Contains(MetricFixtures.Cases, c => c.Positives == 1);
        Assert.All(MetricFixtures.Cases, c => Assert.Equal(c.Positives, c.Mask.Count(m => m)));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Average_precision_matches_scikit_learn(string name)
    {
        var c = MetricFixtures.Get(name);
        Assert.Equal(c.AveragePrecision, HeatmapMetrics.AveragePrecision(c.Heatmap, c.Mask).Value!.Value, Tolerance);
        Assert.Equal(c.AveragePrecision, HeatmapMetrics.AveragePrecision(Widen(c.Heatmap), c.Mask).Value!.Value, Tolerance);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Mean_dice_matches_numpy(string name)
    {
        var c = MetricFixtures.Get(name);
        Assert.Equal(c.MeanDice, HeatmapMetrics.MeanDice(c.Heatmap, c.Mask).Value!.Value, Tolerance);
        Assert.Equal(c.MeanDice, HeatmapMetrics.MeanDice(Widen(c.Heatmap), c.Mask).Value!.Value, Tolerance);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Energy_fraction_matches_numpy(string name)
    {
        var c = MetricFixtures.Get(name);
        Assert.Equal(c.EnergyFraction, HeatmapMetrics.EnergyFraction(c.Heatmap, c.Mask).Value!.Value, Tolerance);
    }

    private static double[] Widen(float[] values) => values.Select(v => (double)v).ToArray();
}
