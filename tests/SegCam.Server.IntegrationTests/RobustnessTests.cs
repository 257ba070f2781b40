using System.Diagnostics;
using Grpc.Core;
using SegCam.Cam.Methods;
using SegCam.Client;
using SegCam.Pipelines;
using SegCam.Server.IntegrationTests.Infrastructure;
using SegCam.Server.Work;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Server.IntegrationTests;

/// <summary>Cancellation, deadlines, the bounded queue, many clients at once, and large volumes in chunks.</summary>
public sealed class RobustnessTests
{
    // A request over every slice of a 256×256×64 phantom, one slice per engine run: seconds of work with frequent progress.
    private static Proto.ComputeCamRequest LongRequest(string id) => new()
    {
        Volume = new Proto.VolumeSource { VolumeId = id },
        Model = "demo-unet2d",
        TargetClass = "kidney",
        PixelSet = new Proto.PixelSet { All = new Proto.AllPixels() },
        Options = new Proto.CamOptions { BatchSize = 1 },
    };

    private static async Task WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < timeout, $"condition not met within {timeout.TotalSeconds} s");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Cancelling_mid_stream_stops_the_computation_and_frees_the_slot()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var (image, _) = TestVolumes.Phantom(seed: 3, slices: 64, side: 256);
        var id = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var explained = 0;
        var remaining = TimeSpan.Zero;
        var progress = new CallbackProgress(p =>
        {
            if (p.Stage == "explain" && p.HasRemainingSeconds && !cancel.IsCancellationRequested)
            {
                explained = p.Done;
                remaining = TimeSpan.FromSeconds(p.RemainingSeconds); // the server's own estimate of the work left
                cancel.Cancel();
            }
        });
        var error = await Assert.ThrowsAnyAsync<Exception>(() => client.ComputeCamAsync(LongRequest(id), progress, cancellationToken: cancel.Token));
        var clock = Stopwatch.StartNew();
        Assert.True(error is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled }, error.ToString());
        await WaitFor(() => server.Service<WorkQueue>().Running == 0, TimeSpan.FromSeconds(10));

        // The slot is free long before the work left would have been done: the computation stopped.
        Assert.True(clock.Elapsed < remaining * 0.5, $"stopped after {clock.Elapsed.TotalSeconds:F2} s; {remaining.TotalSeconds:F2} s of work were left");
        Assert.InRange(explained, 1, 63);
        Assert.DoesNotContain(server.Log.Lines, l => l.Contains("[4011]", StringComparison.Ordinal)); // never completed
        await WaitFor(() => server.Log.Lines.Any(l => l.Contains("[4004]", StringComparison.Ordinal)), TimeSpan.FromSeconds(5));
        Assert.Empty(server.Log.Errors);
    }

    [Fact]
    public async Task A_passed_deadline_ends_the_call_with_deadline_exceeded_and_frees_the_slot()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var (image, _) = TestVolumes.Phantom(seed: 3, slices: 64, side: 256);
        var id = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;

        using var call = client.Raw.ComputeCam(LongRequest(id), deadline: DateTime.UtcNow.AddMilliseconds(400), cancellationToken: ct);
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in call.ResponseStream.ReadAllAsync(ct))
            {
            }
        });
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        await WaitFor(() => server.Service<WorkQueue>().Running == 0, TimeSpan.FromSeconds(10));
        Assert.Empty(server.Log.Errors);
    }

    [Fact]
    public async Task A_full_queue_refuses_with_resource_exhausted_and_queued_calls_hear_their_position()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync(o => o with { MaxConcurrent = 1, MaxQueued = 1 });
        using var client = server.Client();
        var (image, _) = TestVolumes.Phantom(seed: 3, slices: 64, side: 256);
        var id = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var running = client.ComputeCamAsync(LongRequest(id), cancellationToken: stop.Token);
        await WaitFor(() => server.Service<WorkQueue>().Running == 1, TimeSpan.FromSeconds(10));

        var queuedProgress = new List<Proto.Progress>();
        var waiting = client.ComputeCamAsync(LongRequest(id), new SyncProgress(queuedProgress), cancellationToken: stop.Token);
        await WaitFor(() => server.Service<WorkQueue>().Waiting == 1, TimeSpan.FromSeconds(10));
        var refused = await Assert.ThrowsAsync<RemoteCallException>(() => client.ComputeCamAsync(LongRequest(id), cancellationToken: ct));
        Assert.Equal(StatusCode.ResourceExhausted, refused.Status);
        Assert.Contains("the server is busy", refused.Message, StringComparison.Ordinal);

        await WaitFor(() => { lock (queuedProgress) { return queuedProgress.Any(p => p.Stage == "queued" && p.Total == 1); } }, TimeSpan.FromSeconds(10));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => running);
        await Assert.ThrowsAnyAsync<Exception>(() => waiting);
        await WaitFor(() => server.Service<WorkQueue>().Running == 0 && server.Service<WorkQueue>().Waiting == 0, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_single_slice_request_streams_only_that_slice()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var image = TestVolumes.Ct(128, 96, 40, seed: 8);
        var id = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;
        var request = LongRequest(id);
        request.Slices = new Proto.SliceSelection { First = 17, Count = 1 };
        using var call = client.Raw.ComputeCam(request, cancellationToken: ct);
        var messages = new List<Proto.ComputeCamResponse>();
        await foreach (var m in call.ResponseStream.ReadAllAsync(ct))
        {
            messages.Add(m);
        }

        var header = messages.Single(m => m.EventCase == Proto.ComputeCamResponse.EventOneofCase.Heatmap).Heatmap;
        Assert.Equal((17, 1), (header.FirstSlice, header.SliceCount));
        var slab = messages.Single(m => m.EventCase == Proto.ComputeCamResponse.EventOneofCase.Slab).Slab;
        Assert.Equal(17L * 128 * 96, slab.VoxelOffset);
        Assert.Equal(128 * 96 * 4, slab.Data.Length);
        Assert.Equal(18, slab.SlicesComplete);
    }

    [Fact]
    public async Task Sixteen_concurrent_clients_with_different_volumes_each_get_their_own_result()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync(o => o with { MaxConcurrent = 2, MaxQueued = 16 });
        var images = Enumerable.Range(0, 16).Select(seed => TestVolumes.Ct(48, 40, 3, seed)).ToArray();
        var results = await Task.WhenAll(images.Select(async (image, n) =>
        {
            using var client = server.Client();
            var id = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;
            var request = new Proto.ComputeCamRequest
            {
                Volume = new Proto.VolumeSource { VolumeId = id },
                Model = "demo-unet2d",
                TargetClass = "kidney",
                PixelSet = new Proto.PixelSet { Box = new Proto.VoxelBox { Min = { n, 4, 0 }, Max = { n + 20, 30, 3 } } },
            };
            return await client.ComputeCamAsync(request, cancellationToken: ct);
        }));

        var (model, card) = TestVolumes.Model("demo-unet2d");
        using var engine = TestVolumes.Engine();
        var pipeline = VolumePipelines.For(engine, model, card);
        for (var n = 0; n < 16; n++)
        {
            var expected = pipeline.Run(images[n], new VolumeCamRequest { Class = 1, PixelSet = VolumePixelSet.Box((n, 4, 0), (n + 20, 30, 3)) }, cancellationToken: ct);
            Assert.True(TestVolumes.Same(expected.Heatmaps[CamMethod.SegHiResGradCam], results[n].Heatmaps[0].Volume), $"client {n} got another result");
        }

        Assert.Equal(16, server.Service<Storage.VolumeStore>().Count);
        Assert.Empty(server.Log.Errors);
    }

    [Fact]
    public async Task A_256x256x200_float32_volume_uploads_and_streams_back_in_chunks()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var image = TestVolumes.Ct(256, 256, 200, seed: 4);
        var upload = await client.UploadAsync(image, cancellationToken: ct);
        Assert.Equal(256L * 256 * 200 * 4, upload.BytesReceived);

        var slabs = new List<int>();
        var request = new Proto.ComputeCamRequest
        {
            Volume = new Proto.VolumeSource { VolumeId = upload.VolumeId },
            Model = "demo-unet2d",
            TargetClass = "kidney",
            PixelSet = new Proto.PixelSet { Voxels = new Proto.VoxelList { Ijk = { 128, 128, 0, 100, 90, 199 } } },
        };
        var result = await client.ComputeCamAsync(request, null, (_, complete) => slabs.Add(complete), ct);

        Assert.Equal(2, result.Summary.UnitsComputed);
        Assert.Equal(198, result.Summary.UnitsSkipped);
        Assert.Equal(50, slabs.Count); // 1 MiB chunks of 4 slices of 256 KiB
        Assert.Equal(Enumerable.Range(1, 50).Select(n => 4 * n), slabs);
        var (model, card) = TestVolumes.Model("demo-unet2d");
        using var engine = TestVolumes.Engine();
        var expected = VolumePipelines.For(engine, model, card).Run(image, new VolumeCamRequest { Class = 1, PixelSet = VolumePixelSet.Points([(128, 128, 0), (100, 90, 199)]) }, cancellationToken: ct);
        Assert.True(TestVolumes.Same(expected.Heatmaps[CamMethod.SegHiResGradCam], result.Heatmaps[0].Volume));
    }
}

internal sealed class CallbackProgress(Action<Proto.Progress> action) : IProgress<Proto.Progress>
{
    public void Report(Proto.Progress value) => action(value);
}
