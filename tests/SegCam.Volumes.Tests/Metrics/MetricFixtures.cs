using System.Text.Json;
using SegCam.Common.Tensors;

namespace SegCam.Volumes.Tests.Metrics;

/// <summary>
/// tests/fixtures/metrics, written by make_metric_fixtures.py: small heatmap/mask pairs with the values that
/// scikit-learn (average precision) and an independent NumPy implementation (mean-Dice, energy fraction) give.
/// </summary>
internal static class MetricFixtures
{
    private static readonly Lazy<IReadOnlyList<Case>> Loaded = new(Load);

    /// <summary>Every case in expected.json.</summary>
    public static IReadOnlyList<Case> Cases => Loaded.Value;

    /// <summary>Case names, for theories.</summary>
    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases)
        {
            data.Add(c.Name);
        }

        return data;
    }

    /// <summary>The case called <paramref name="name"/>.</summary>
    public static Case Get(string name) => Cases.Single(c => c.Name == name);

    private static List<Case> Load()
    {
        var folder = Find();
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "expected.json")));
        var cases = new List<Case>();
        foreach (var e in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var name = e.GetProperty("name").GetString() ?? throw new InvalidDataException("a case has no name");
            cases.Add(new Case(
                name,
                NpyFile.Read(Path.Combine(folder, name + ".heatmap.npy")).ToFloat32(),
                NpyFile.Read(Path.Combine(folder, name + ".mask.npy")).ToBoolean(),
                e.GetProperty("positives").GetInt32(),
                e.GetProperty("average_precision").GetDouble(),
                e.GetProperty("mean_dice").GetDouble(),
                e.GetProperty("energy_fraction").GetDouble()));
        }

        return cases;
    }

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "fixtures", "metrics");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/fixtures/metrics not found");
    }

    /// <summary>One heatmap/mask pair and its reference values.</summary>
    internal sealed record Case(string Name, float[] Heatmap, bool[] Mask, int Positives, double AveragePrecision, double MeanDice, double EnergyFraction);
}
