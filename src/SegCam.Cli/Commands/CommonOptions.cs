using System.CommandLine;
using SegCam.Cam.Execution;

namespace SegCam.Cli.Commands;

/// <summary>Options shared by several commands.</summary>
internal static class CommonOptions
{
    public static Option<FileInfo> Model() => new("--model") { Description = "ONNX model file", Required = true };

    public static Option<string> Device() => new Option<string>("--device")
    {
        Description = "Execution provider: cpu, or cuda (falls back to cpu with a message when CUDA is unavailable)",
        DefaultValueFactory = _ => "cpu",
    }.AcceptOnlyFromAmong("cpu", "cuda");

    public static ExecutionDevice ParseDevice(string value) => value == "cuda" ? ExecutionDevice.Cuda : ExecutionDevice.Cpu;

    public static Option<string?> InputShape() => new("--input-shape")
    {
        Description = "Input shape to probe, comma-separated (e.g. 1,1,256,256); default: declared dims, batch 1, dynamic spatial axes 128 (2-D) or 64 (3-D)",
    };

    /// <summary>Parses "a,b,c" into integers; the error names the option and the expected form.</summary>
    public static long[] ParseInts(string text, string option, int? count = null)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new long[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out values[i]))
            {
                throw new UsageException($"{option}: '{text}' is not a comma-separated list of integers");
            }
        }

        if (count is { } c && values.Length != c)
        {
            throw new UsageException($"{option}: '{text}' has {values.Length} values; {c} expected (one per spatial axis)");
        }

        return values;
    }
}
