using System.CommandLine;
using Microsoft.Extensions.Logging;
using SegCam.Server.Hosting;

namespace SegCam.Cli.Commands;

/// <summary><c>segcam serve</c>: the gRPC server (segcam.v1) over a model directory.</summary>
internal static class ServeCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var models = new Option<DirectoryInfo?>("--models") { Description = "Model directory (*.onnx with .segcam.json cards); default: $SEGCAM_MODEL_DIR, else the demo models beside segcam" };
        var listen = new Option<string>("--listen") { Description = "HOST:PORT to listen on (port 0 = any free port; 0.0.0.0 exposes the server to the network — use TLS and an API key then)", DefaultValueFactory = _ => SegCamServerOptions.DefaultListen };
        var tlsCert = new Option<FileInfo?>("--tls-cert") { Description = "TLS certificate: .pfx, or PEM (.pem/.crt) with --tls-key" };
        var tlsKey = new Option<string?>("--tls-key") { Description = "Password of the .pfx, or the PEM private key file" };
        var apiKeyFile = new Option<FileInfo?>("--api-key-file") { Description = "File holding the API key every call must send as 'authorization: Bearer <key>' (or set SEGCAM_API_KEY)" };
        var device = CommonOptions.Device();
        var concurrent = new Option<int>("--max-concurrent") { Description = "Computations running at once", DefaultValueFactory = _ => 2 };
        var queued = new Option<int>("--max-queued") { Description = "Computations waiting; more are refused (RESOURCE_EXHAUSTED)", DefaultValueFactory = _ => 16 };
        var sessions = new Option<int>("--max-sessions") { Description = "Compiled CAM sessions kept (one per model, layers, options and input shape; least recently used out)", DefaultValueFactory = _ => Cam.Execution.CamEngine.DefaultMaxCachedSessions };
        var idle = new Option<double>("--volume-idle-minutes") { Description = "Forget an uploaded volume after this many idle minutes", DefaultValueFactory = _ => 30 };
        var stored = new Option<long>("--max-stored-mb") { Description = "Memory for uploaded volumes, in MiB", DefaultValueFactory = _ => 8192 };
        var result = new Option<long>("--max-result-mb") { Description = "Largest result of one request (heatmaps: methods × layers × voxels × 4 bytes), in MiB", DefaultValueFactory = _ => 4096 };
        var detailed = new Option<bool>("--detailed-errors") { Description = "Send exception details with INTERNAL errors (development only)" };
        var otlp = new Option<string?>("--otlp-endpoint") { Description = "Export OpenTelemetry metrics (meter SegCam.Server) to this OTLP endpoint" };
        var logFormat = new Option<string>("--log-format") { Description = "Log lines on stderr: text or json", DefaultValueFactory = _ => "text" }.AcceptOnlyFromAmong("text", "json");
        var command = new Command("serve", "Run the SegCam gRPC server (segcam.v1: models, uploads, Segment, ComputeCam; health and reflection)")
        {
            models, listen, tlsCert, tlsKey, apiKeyFile, device, concurrent, queued, sessions, idle, stored, result, detailed, otlp, logFormat,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var key = parse.GetValue(apiKeyFile) is { } f
                ? (f.Exists ? File.ReadAllText(f.FullName).Trim() : throw new UsageException($"--api-key-file '{f.FullName}' does not exist"))
                : Environment.GetEnvironmentVariable("SEGCAM_API_KEY");
            var options = new SegCamServerOptions
            {
                ModelDirectory = parse.GetValue(models)?.FullName ?? ModelLocator.Directories().First(Directory.Exists),
                Listen = parse.GetValue(listen)!,
                TlsCertificate = parse.GetValue(tlsCert)?.FullName,
                TlsKey = parse.GetValue(tlsKey),
                ApiKey = string.IsNullOrEmpty(key) ? null : key,
                Device = CommonOptions.ParseDevice(parse.GetValue(device)!),
                MaxConcurrent = parse.GetValue(concurrent) is > 0 and var c ? c : throw new UsageException("--max-concurrent must be at least 1"),
                MaxQueued = parse.GetValue(queued) is >= 0 and var q ? q : throw new UsageException("--max-queued must not be negative"),
                MaxCachedSessions = parse.GetValue(sessions) is > 0 and var s ? s : throw new UsageException("--max-sessions must be at least 1"),
                VolumeIdle = parse.GetValue(idle) is > 0 and var m ? TimeSpan.FromMinutes(m) : throw new UsageException("--volume-idle-minutes must be positive"),
                MaxStoredBytes = parse.GetValue(stored) is > 0 and var mb ? mb << 20 : throw new UsageException("--max-stored-mb must be positive"),
                MaxResultBytes = parse.GetValue(result) is > 0 and var rb ? rb << 20 : throw new UsageException("--max-result-mb must be positive"),
                DetailedErrors = parse.GetValue(detailed),
                OtlpEndpoint = parse.GetValue(otlp),
            };
            var json = parse.GetValue(logFormat) == "json";
            await using var server = SegCamServer.Create(options, logging =>
            {
                logging.SetMinimumLevel(LogLevel.Information);
                logging.AddFilter("Microsoft", LogLevel.Warning).AddFilter("Grpc", LogLevel.Warning);
                if (json)
                {
                    logging.AddJsonConsole(o => o.IncludeScopes = true);
                }
                else
                {
                    logging.AddSimpleConsole(o =>
                    {
                        o.IncludeScopes = true;
                        o.SingleLine = true;
                        o.TimestampFormat = "HH:mm:ss ";
                    });
                }

                logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            });
            await server.StartAsync(cancellationToken).ConfigureAwait(false);
            foreach (var address in server.Addresses)
            {
                await stdout.WriteLineAsync($"segcam: listening on {address.ToString().TrimEnd('/')}").ConfigureAwait(false);
            }

            await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (options.ApiKey is null && !System.Net.IPAddress.IsLoopback(ListenAddress.Parse(options.Listen).Address))
            {
                await stderr.WriteLineAsync("segcam: warning: listening beyond loopback without an API key; anyone who can reach this port can upload volumes").ConfigureAwait(false);
            }

            // The host handles SIGINT/SIGTERM itself (it stops and this completes); the token covers in-process callers.
            await server.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            await stdout.WriteLineAsync("segcam: stopped").ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
