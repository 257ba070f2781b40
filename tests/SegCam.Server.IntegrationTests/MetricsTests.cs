using System.Diagnostics.Metrics;
using SegCam.Server.Hosting;
using SegCam.Server.IntegrationTests.Infrastructure;

namespace SegCam.Server.IntegrationTests;

/// <summary>The server's meter reports calls by method and status, durations, and the streamed bytes.</summary>
public sealed class MetricsTests
{
    [Fact]
    public async Task Calls_are_counted_by_method_and_status_and_streamed_bytes_measured()
    {
        var ct = TestContext.Current.CancellationToken;
        // Other tests' servers publish the same meter name at the same time: keep this server's (its meter's scope is its factory).
        var requests = new List<(object? Scope, string Method, string Status)>();
        var streamed = new List<(object? Scope, long Bytes)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ServerMetrics.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "segcam.server.requests")
            {
                var t = tags.ToArray().ToDictionary(x => x.Key, x => x.Value?.ToString());
                lock (requests)
                {
                    requests.Add((instrument.Meter.Scope, t["rpc.method"]!, t["rpc.grpc.status_code"]!));
                }
            }
            else if (instrument.Name == "segcam.server.stream.bytes")
            {
                lock (streamed)
                {
                    streamed.Add((instrument.Meter.Scope, value));
                }
            }
        });
        listener.Start();

        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var image = TestVolumes.Ct(32, 32, 2, seed: 1);
        var id = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;
        var request = new Protocol.V1.ComputeCamRequest
        {
            Volume = new Protocol.V1.VolumeSource { VolumeId = id },
            Model = "demo-unet2d",
            TargetClass = "kidney",
            PixelSet = new Protocol.V1.PixelSet { All = new Protocol.V1.AllPixels() },
        };
        await client.ComputeCamAsync(request, cancellationToken: ct);
        await Assert.ThrowsAsync<Client.RemoteCallException>(() => client.ComputeCamAsync(new Protocol.V1.ComputeCamRequest(), cancellationToken: ct));

        var scope = server.Service<IMeterFactory>();
        lock (requests)
        {
            var mine = requests.Where(r => ReferenceEquals(r.Scope, scope)).Select(r => (r.Method, r.Status)).ToList();
            Assert.Contains(("/segcam.v1.SegCamService/UploadVolume", "OK"), mine);
            Assert.Contains(("/segcam.v1.SegCamService/ComputeCam", "OK"), mine);
            Assert.Contains(("/segcam.v1.SegCamService/ComputeCam", "InvalidArgument"), mine);
            Assert.Equal(3, mine.Count);
        }

        lock (streamed)
        {
            Assert.Equal(32 * 32 * 2 * 4, streamed.Where(s => ReferenceEquals(s.Scope, scope)).Sum(s => s.Bytes));
        }
    }
}
