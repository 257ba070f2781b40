using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SegCam.Client;
using SegCam.Server.Hosting;

namespace SegCam.Server.IntegrationTests.Infrastructure;

/// <summary>A real SegCam server (Kestrel, HTTP/2) on 127.0.0.1 and a free port, with a log sink that records errors.</summary>
public sealed class RunningServer : IAsyncDisposable
{
    private RunningServer(SegCamServer server, ErrorLog log)
    {
        Server = server;
        Log = log;
        Address = server.Addresses.Single();
    }

    public SegCamServer Server { get; }

    public ErrorLog Log { get; }

    public Uri Address { get; }

    /// <summary>Starts a server over the repository's demo models with <paramref name="configure"/> applied to the options.</summary>
    public static async Task<RunningServer> StartAsync(Func<SegCamServerOptions, SegCamServerOptions>? configure = null)
    {
        var options = new SegCamServerOptions { ModelDirectory = Repo.Models, Listen = "127.0.0.1:0" };
        options = configure?.Invoke(options) ?? options;
        var log = new ErrorLog();
        var server = SegCamServer.Create(options, logging => logging.AddProvider(log).SetMinimumLevel(LogLevel.Information));
        await server.StartAsync(TestContext.Current.CancellationToken);
        return new RunningServer(server, log);
    }

    public SegCamClient Client(string? apiKey = null) => new(Address, new SegCamClientOptions { ApiKey = apiKey });

    /// <summary>A service of the running server (store, queue).</summary>
    internal T Service<T>() where T : notnull => Server.Services.GetRequiredService<T>();

    public async ValueTask DisposeAsync()
    {
        await Server.StopAsync(CancellationToken.None);
        await Server.DisposeAsync();
    }
}

/// <summary>Collects error-level log entries, so tests can assert that a call left no unexpected errors behind.</summary>
public sealed class ErrorLog : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _errors = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _all = new();

    public IReadOnlyCollection<string> Errors => _errors;

    public IReadOnlyCollection<string> Lines => _all;

    public ILogger CreateLogger(string categoryName) => new Sink(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Sink(ErrorLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = $"{logLevel} {category}[{eventId.Id}] {formatter(state, exception)} {exception}";
            owner._all.Enqueue(line);
            if (logLevel >= LogLevel.Error)
            {
                owner._errors.Enqueue(line);
            }
        }
    }
}

/// <summary>Paths in the repository.</summary>
public static class Repo
{
    public static string Root { get; } = Find();

    public static string Models => Path.Combine(Root, "models");

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SegCamPlugin.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("SegCamPlugin.sln not found above the test directory");
    }
}
