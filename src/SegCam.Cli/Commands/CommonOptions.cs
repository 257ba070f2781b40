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

    public static Option<string?> Server() => new("--server")
    {
        Description = "Run on a SegCam server instead of in-process, e.g. http://127.0.0.1:5055 (https:// for TLS): the volume is uploaded, results streamed back",
    };

    public static Option<FileInfo?> ApiKeyFile() => new("--api-key-file")
    {
        Description = "File holding the server's API key (or set SEGCAM_API_KEY); sent as 'authorization: Bearer <key>'",
    };

    /// <summary>A client for <c>--server</c>, with the API key from <c>--api-key-file</c> or SEGCAM_API_KEY.</summary>
    public static Client.SegCamClient Connect(string server, FileInfo? apiKeyFile)
    {
        if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new UsageException($"--server '{server}' must be an http:// or https:// URL, e.g. http://127.0.0.1:5055");
        }

        string? key = null;
        if (apiKeyFile is not null)
        {
            key = apiKeyFile.Exists ? File.ReadAllText(apiKeyFile.FullName).Trim() : throw new UsageException($"--api-key-file '{apiKeyFile.FullName}' does not exist");
        }

        key ??= Environment.GetEnvironmentVariable("SEGCAM_API_KEY");
        return new Client.SegCamClient(uri, new Client.SegCamClientOptions { ApiKey = key });
    }

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
