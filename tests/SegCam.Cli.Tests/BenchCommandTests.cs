using System.Globalization;
using System.Text.RegularExpressions;

namespace SegCam.Cli.Tests;

/// <summary><c>segcam bench</c> runs its rounds and reports positive times and ratios per layer (the figures themselves are the README's).</summary>
public sealed partial class BenchCommandTests
{
    [Fact]
    public async Task Bench_reports_times_and_ratios_for_each_layer()
    {
        var model = Path.Combine(RepoPaths.Fixtures, "models", "unet2d_bn.onnx");
        var (code, stdout, stderr) = await CliRun.RunAsync("bench", "--model", model, "--input-shape", "2,1,48,40", "--runs", "3", "--layers", "bottleneck;encoder level 1");

        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n').Where(l => l.StartsWith("layer ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, lines.Length);
        foreach (var line in lines)
        {
            var m = Figures().Match(line);
            Assert.True(m.Success, line);
            var values = m.Groups.Values.Skip(1).Select(g => double.Parse(g.Value, CultureInfo.InvariantCulture)).ToArray();
            Assert.All(values, v => Assert.True(v > 0 && double.IsFinite(v), line)); // timings themselves are the README's, not a test's
        }
    }

    [Theory]
    [InlineData("demo-unet2d", "64,64,6", "of 6 slices")]
    [InlineData("demo-unet3d", "64,64,24", "patches")]
    public async Task Bench_volume_reports_the_units_of_its_pipeline(string model, string size, string units)
    {
        var (code, stdout, stderr) = await CliRun.RunAsync("bench-volume", "--model", Path.Combine(RepoPaths.Root, "models", model + ".onnx"), "--size", size, "--runs", "1", "--skip-empty", "false");

        Assert.True(code == 0, stderr);
        Assert.Contains(units, stdout, StringComparison.Ordinal);
        Assert.Contains("peak working set", stdout, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"plain inference ([0-9.]+) ms; all \d+ gradient CAMs ([0-9.]+) ms = ([0-9.]+) x inference; one CAM ([0-9.]+) ms = ([0-9.]+) x; all/one = ([0-9.]+)")]
    private static partial Regex Figures();
}
