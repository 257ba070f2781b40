using System.Diagnostics;
using System.Diagnostics.Metrics;
using SegCam.Server.Work;

namespace SegCam.Server.Hosting;

/// <summary>
/// The server's OpenTelemetry-compatible metrics (meter <see cref="MeterName"/>): requests by method and status,
/// request durations, queue length and running computations, bytes uploaded and streamed.
/// </summary>
internal sealed class ServerMetrics : IDisposable
{
    /// <summary>Name of the meter (export it with OpenTelemetry or watch it with dotnet-counters).</summary>
    public const string MeterName = "SegCam.Server";

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _bytesIn;
    private readonly Counter<long> _bytesOut;

    public ServerMetrics(IMeterFactory factory, WorkQueue queue)
    {
        _meter = factory.Create(MeterName);
        _requests = _meter.CreateCounter<long>("segcam.server.requests", "{request}", "Completed calls by method and status code");
        _duration = _meter.CreateHistogram<double>("segcam.server.request.duration", "s", "Call duration from start to last message");
        _bytesIn = _meter.CreateCounter<long>("segcam.server.upload.bytes", "By", "Voxel bytes received");
        _bytesOut = _meter.CreateCounter<long>("segcam.server.stream.bytes", "By", "Heatmap and label bytes streamed");
        _meter.CreateObservableGauge("segcam.server.queue.length", () => queue.Waiting, "{request}", "Computations waiting for a slot");
        _meter.CreateObservableGauge("segcam.server.running", () => queue.Running, "{request}", "Computations running");
    }

    public void Completed(string method, string status, TimeSpan duration)
    {
        var tags = new TagList { { "rpc.method", method }, { "rpc.grpc.status_code", status } };
        _requests.Add(1, tags);
        _duration.Record(duration.TotalSeconds, tags);
    }

    public void Uploaded(long bytes) => _bytesIn.Add(bytes);

    public void Streamed(long bytes) => _bytesOut.Add(bytes);

    public void Dispose() => _meter.Dispose();
}
