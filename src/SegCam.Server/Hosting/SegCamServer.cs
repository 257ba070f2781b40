using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using SegCam.Common.Errors;
using SegCam.Server.Interceptors;
using SegCam.Server.Models;
using SegCam.Server.Services;
using SegCam.Server.Storage;
using SegCam.Server.Work;

namespace SegCam.Server.Hosting;

/// <summary>
/// The SegCam gRPC server: Kestrel (HTTP/2, optional TLS) with SegCamService, the standard health service and gRPC
/// reflection. <c>segcam serve</c> and the integration tests host it the same way.
/// </summary>
public sealed class SegCamServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SegCamServer(WebApplication app, SegCamServerOptions options)
    {
        _app = app;
        Options = options;
    }

    /// <summary>The options it runs with.</summary>
    public SegCamServerOptions Options { get; }

    /// <summary>The bound addresses (known after <see cref="StartAsync"/>), e.g. http://127.0.0.1:5055.</summary>
    public IReadOnlyList<Uri> Addresses => _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a)).ToArray();

    /// <summary>The server's services (tests look at the store and the queue).</summary>
    internal IServiceProvider Services => _app.Services;

    /// <summary>Builds a server; nothing listens until <see cref="StartAsync"/>. Bad options fail here with a clear message.</summary>
    public static SegCamServer Create(SegCamServerOptions options, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var endpoint = ListenAddress.Parse(options.Listen);
        var certificate = LoadCertificate(options);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
        builder.Logging.ClearProviders();
        if (logging is not null)
        {
            logging(builder.Logging);
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = null; // gRPC streams; each message is capped by MaxReceiveMessageSize
            // Flow-control windows of several chunks, so uploads are not throttled to one chunk per round trip.
            kestrel.Limits.Http2.InitialConnectionWindowSize = 32 << 20;
            kestrel.Limits.Http2.InitialStreamWindowSize = 16 << 20;
            kestrel.Listen(endpoint, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
            });
        });

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<EngineHost>();
        services.AddSingleton(sp => new ModelRegistry(options.ModelDirectory, message => Log.EngineNote(sp.GetRequiredService<ILogger<ModelRegistry>>(), message)));
        services.AddSingleton(sp => new VolumeStore(options.MaxStoredBytes, options.VolumeIdle, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<VolumeSources>();
        services.AddSingleton(new WorkQueue(options.MaxConcurrent, options.MaxQueued));
        services.AddSingleton<ServerMetrics>();
        services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = options.MaxMessageBytes;
            grpc.MaxSendMessageSize = options.MaxMessageBytes;
            grpc.EnableDetailedErrors = options.DetailedErrors;
            grpc.Interceptors.Add<CallInterceptor>();
            grpc.Interceptors.Add<ApiKeyInterceptor>();
        });
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks().AddCheck("models", () => HealthCheckResult.Healthy());
        if (options.OtlpEndpoint is { Length: > 0 } otlp)
        {
            services.AddOpenTelemetry().WithMetrics(metrics => metrics
                .AddMeter(ServerMetrics.MeterName)
                .AddOtlpExporter(exporter => exporter.Endpoint = new Uri(otlp)));
        }

        var app = builder.Build();
        app.MapGrpcService<SegCamGrpcService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();

        // Fail now, not on the first call: a missing model directory or a broken engine.
        var registry = app.Services.GetRequiredService<ModelRegistry>();
        var engine = app.Services.GetRequiredService<EngineHost>();
        Log.Serving(app.Services.GetRequiredService<ILogger<SegCamServer>>(), registry.All.Count(), registry.Source, engine.Provider, options.ApiKey is { Length: > 0 } ? "required" : "off");
        return new SegCamServer(app, options);
    }

    /// <summary>Starts listening.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => _app.StartAsync(cancellationToken);

    /// <summary>Stops listening (running calls are cancelled).</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    /// <summary>Completes when the server shuts down (Ctrl+C or <paramref name="cancellationToken"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync() => await _app.DisposeAsync().ConfigureAwait(false);

    private static X509Certificate2? LoadCertificate(SegCamServerOptions options)
    {
        if (options.TlsCertificate is not { Length: > 0 } path)
        {
            return null;
        }

        if (!File.Exists(path))
        {
            throw new InputFileNotFoundException($"TLS certificate '{path}' does not exist; give a .pfx (with --tls-key PASSWORD if it has one) or a PEM certificate with --tls-key KEY.pem");
        }

        try
        {
            return path.EndsWith(".pem", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".crt", StringComparison.OrdinalIgnoreCase)
                ? X509Certificate2.CreateFromPemFile(path, options.TlsKey ?? throw new InvalidRequestException($"PEM certificate '{path}' needs its private key file (--tls-key KEY.pem)"))
                : X509CertificateLoader.LoadPkcs12FromFile(path, options.TlsKey);
        }
        catch (System.Security.Cryptography.CryptographicException ex)
        {
            throw new InvalidRequestException($"TLS certificate '{path}' cannot be read ({ex.Message}); give a .pfx with its password or a PEM certificate and key", ex);
        }
    }
}
