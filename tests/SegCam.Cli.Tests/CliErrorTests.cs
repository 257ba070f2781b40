namespace SegCam.Cli.Tests;

/// <summary>Bad input gets a one-line error naming what is wrong, and the exit code of its kind; nothing is written.</summary>
public sealed class CliErrorTests
{
    private static readonly string Case = Path.Combine(RepoPaths.Fixtures, "cases", "unet2d_bn-bottleneck-mask");
    private static readonly string Model = Path.Combine(RepoPaths.Fixtures, "models", "unet2d_bn.onnx");

    private static async Task<(int Code, string Out, string Err, string Dir)> Run(params string[] extra)
    {
        var dir = Directory.CreateTempSubdirectory("segcam-cli-").FullName;
        string[] args =
        [
            "cam", "--model", Model, "--input", Path.Combine(Case, "input.npy"),
            .. extra.Contains("--class") ? Array.Empty<string>() : ["--class", "1"],
            "--out", Path.Combine(dir, "out.npy"), .. extra,
        ];
        var (code, stdout, stderr) = await CliRun.RunAsync(args);
        return (code, stdout, stderr, dir);
    }

    [Theory]
    [InlineData(3, "unknown CAM method 'grad-cam'", "--mask", "MASK", "--method", "grad-cam")]
    [InlineData(3, "out of range", "--mask", "MASK", "--class", "9")]
    [InlineData(4, "neither a tensor", "--mask", "MASK", "--layer", "nope")]
    [InlineData(4, "file not found", "--mask", "/nonexistent/mask.npy")]
    [InlineData(3, "does not fit the output grid", "--mask", "INPUT")]
    [InlineData(3, "outside the output grid", "--bbox", "0,0:99,3")]
    [InlineData(2, "MIN:MAX", "--bbox", "0,0")]
    [InlineData(2, "a pixel set is required")]
    [InlineData(2, "at most one of", "--mask", "MASK", "--pixel", "3,4")]
    [InlineData(2, "'sometimes' not recognized", "--mask", "MASK", "--normalize", "sometimes")]
    [InlineData(3, "xres window", "--mask", "MASK", "--xres-window", "0")]
    public async Task Bad_option_exits_with_its_kind_and_says_what_is_allowed(int code, string message, params string[] extra)
    {
        extra = extra.Select(e => e switch
        {
            "MASK" => Path.Combine(Case, "mask.npy"),
            "INPUT" => Path.Combine(Case, "input.npy"),
            _ => e,
        }).ToArray();
        var (actual, _, err, dir) = await Run(extra);
        Assert.Equal(code, actual);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir));
    }

    [Theory]
    [InlineData("--max-sessions", "0", "--max-sessions must be at least 1")]
    [InlineData("--max-queued", "-1", "--max-queued must not be negative")]
    public async Task Serve_refuses_bad_limits_before_it_listens(string option, string value, string message)
    {
        var (code, stdout, stderr) = await CliRun.RunAsync("serve", "--listen", "127.0.0.1:0", option, value);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("listening", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Corrupt_model_file_is_rejected_as_not_onnx()
    {
        var dir = Directory.CreateTempSubdirectory("segcam-cli-").FullName;
        var bad = Path.Combine(dir, "bad.onnx");
        await File.WriteAllBytesAsync(bad, [0x08, 0x07, 0xFF, 0xFF, 0x12, 0x34], TestContext.Current.CancellationToken);
        var stderr = new StringWriter();
        var code = await CliApp.RunAsync(["layers", "--model", bad], new StringWriter(), stderr, TestContext.Current.CancellationToken);
        Assert.Equal(3, code);
        Assert.Contains("not an ONNX model", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Single_method_writes_out_as_given_and_reports_the_provider()
    {
        var (code, stdout, _, dir) = await Run("--mask", Path.Combine(Case, "mask.npy"));
        Assert.Equal(0, code);
        Assert.Contains("CPUExecutionProvider", stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dir, "out.npy")));
    }

    [Fact]
    public async Task Empty_pixel_set_is_reported_and_the_map_is_zero()
    {
        var dir = Directory.CreateTempSubdirectory("segcam-cli-").FullName;
        var mask = Path.Combine(dir, "empty.npy");
        Common.Tensors.NpyFile.Write(mask, Common.Tensors.NdArray.FromBoolean(new bool[48 * 40], 48, 40));
        var (code, _, err, outDir) = await Run("--mask", mask);
        Assert.Equal(0, code);
        Assert.Contains("EMPTY_PIXEL_SET", err, StringComparison.Ordinal);
        var map = Common.Tensors.NpyFile.Read(Path.Combine(outDir, "out.npy")).ToFloat32();
        Assert.All(map, v => Assert.Equal(0f, v));
    }

    [Fact]
    public async Task Layers_lists_roles_and_the_default()
    {
        var stdout = new StringWriter();
        var code = await CliApp.RunAsync(["layers", "--model", Model], stdout, new StringWriter(), TestContext.Current.CancellationToken);
        Assert.Equal(0, code);
        Assert.Contains("/bottleneck/bottleneck.5/Relu_output_0", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("bottleneck (default)", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("encoder level 1", stdout.ToString(), StringComparison.Ordinal);
    }
}
