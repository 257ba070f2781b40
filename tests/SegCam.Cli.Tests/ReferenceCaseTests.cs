using System.Text.Json;
using SegCam.Common.Tensors;

namespace SegCam.Cli.Tests;

/// <summary>
/// Every PyTorch-autograd reference case (../shared/reference and tests/fixtures) reproduced through the CLI,
/// exactly as its case.json says: max|got − expected| ≤ 1e-4·max|expected| for A, G and every method, shapes equal.
/// </summary>
public sealed class ReferenceCaseTests
{
    /// <summary>
    /// Cases float32 arithmetic cannot reach (measured): the default float64 path must pass them, and the float32
    /// theory leaves them out. PyTorch's own float32 autograd misses the unet3d ones by the same amounts.
    /// </summary>
    private static readonly Dictionary<string, string> Float32Unreachable = new(StringComparer.Ordinal)
    {
        ["shared:unet3d-bottleneck-mask"] = "float32 forward flips the sign of one LeakyReLU input in decs.0.2 (|x| = 6.8e-7 in float64): off by 4.4e-3",
        ["shared:unet3d-stage1-mask-activation"] = "same LeakyReLU sign flip: off by 1.35e-4",
        ["shared:oddnet2d-deep-mask"] = "Grad-CAM++ on a pre-activation layer: s_k·G³ nearly cancels 2G², amplifying float32 rounding to 2.3e-4",
    };

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var (source, folder) in new[] { ("shared", Path.Combine(RepoPaths.Shared, "reference", "cases")), ("fixtures", Path.Combine(RepoPaths.Fixtures, "cases")) })
        {
            if (!Directory.Exists(folder))
            {
                throw new DirectoryNotFoundException($"reference cases missing: {folder}");
            }

            foreach (var dir in Directory.GetDirectories(folder).Order(StringComparer.Ordinal))
            {
                data.Add(source, Path.GetFileName(dir));
            }
        }

        return data;
    }

    public static TheoryData<string, string> Float32Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var row in Cases())
        {
            var (source, name) = row.Data;
            if (!Float32Unreachable.ContainsKey($"{source}:{name}"))
            {
                data.Add(source, name);
            }
        }

        return data;
    }

    /// <summary>The case's command line as written (default precision: float64).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public Task Cli_reproduces_reference_case(string source, string name) => RunCase(source, name, []);

    /// <summary>The same command with --precision float32, for every case float32 can reach.</summary>
    [Theory]
    [MemberData(nameof(Float32Cases))]
    public Task Cli_reproduces_reference_case_in_float32(string source, string name) => RunCase(source, name, ["--precision", "float32"]);

    private static async Task RunCase(string source, string name, string[] extra)
    {
        var caseDir = source == "shared" ? Path.Combine(RepoPaths.Shared, "reference", "cases", name) : Path.Combine(RepoPaths.Fixtures, "cases", name);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(caseDir, "case.json"), TestContext.Current.CancellationToken));
        var outDir = Directory.CreateTempSubdirectory("segcam-case-").FullName;
        try
        {
            string[] args = [.. CliArgs(doc.RootElement, caseDir, outDir), .. extra];
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var code = await CliApp.RunAsync(args, stdout, stderr, TestContext.Current.CancellationToken);
            Assert.True(code == 0, $"exit {code}: {stderr}");

            foreach (var expected in doc.RootElement.GetProperty("expected").EnumerateObject())
            {
                var produced = expected.Name switch
                {
                    "gradient" => "out.gradient.npy",
                    "activation" => "out.activation.npy",
                    _ => $"out.{expected.Name}.npy",
                };
                var want = NpyFile.Read(Path.Combine(caseDir, expected.Value.GetString()!));
                var got = NpyFile.Read(Path.Combine(outDir, produced));
                Assert.Equal(want.Shape, got.Shape);
                var w = want.ToFloat64();
                var g = got.ToFloat64();
                var scale = w.Max(Math.Abs);
                var worst = w.Zip(g, (a, b) => Math.Abs(a - b)).DefaultIfEmpty(0).Max();
                Assert.True(worst <= 1e-4 * scale, $"{expected.Name}: max|got-expected| = {worst:E3} > 1e-4 * {scale:E3}");
            }
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    /// <summary>The case's own command line with input paths made absolute and outputs sent to <paramref name="outDir"/>.</summary>
    internal static string[] CliArgs(JsonElement root, string caseDir, string outDir)
    {
        var cli = root.GetProperty("cli").EnumerateArray().Select(e => e.GetString()!).Skip(1).ToArray();
        var inputs = new HashSet<string>(StringComparer.Ordinal) { "--model", "--input", "--mask" };
        var outputs = new HashSet<string>(StringComparer.Ordinal) { "--out", "--export-gradient", "--export-activation" };
        for (var i = 1; i < cli.Length; i++)
        {
            if (inputs.Contains(cli[i - 1]))
            {
                cli[i] = Path.GetFullPath(Path.Combine(caseDir, cli[i]));
            }
            else if (outputs.Contains(cli[i - 1]))
            {
                cli[i] = Path.Combine(outDir, cli[i]);
            }
        }

        return cli;
    }
}
