using Grpc.Core;
using SegCam.Cam.Methods;
using SegCam.Client;
using SegCam.Pipelines;
using SegCam.Server.IntegrationTests.Infrastructure;
using SegCam.Volumes;
using SegCam.Volumes.Metrics;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Server.IntegrationTests;

/// <summary>Upload → ComputeCam / Segment → download equals the in-process pipeline, bit for bit.</summary>
public sealed class ComputeCamTests
{
    private static Proto.ComputeCamRequest Request(string volumeId, string model, string cls, Proto.PixelSet set, params string[] methods)
    {
        var request = new Proto.ComputeCamRequest { Volume = new Proto.VolumeSource { VolumeId = volumeId }, Model = model, TargetClass = cls, PixelSet = set };
        request.Methods.Add(methods);
        return request;
    }

    private static Proto.PixelSet Label(string id, int value) => new() { Label = new Proto.LabelPixels { LabelVolumeId = id, Label = value } };

    [Fact]
    public async Task ComputeCam_2d_model_equals_the_in_process_pipeline_bit_for_bit()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var (image, labels) = TestVolumes.Phantom(seed: 11, slices: 24);
        var imageId = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;
        var labelsId = (await client.UploadAsync(labels, cancellationToken: ct)).VolumeId;
        var progress = new List<Proto.Progress>();
        var slabs = 0;
        var result = await client.ComputeCamAsync(Request(imageId, "demo-unet2d", "tumour", Label(labelsId, 2), "seg-hires-grad-cam", "seg-grad-cam"), new SyncProgress(progress), (_, _) => slabs++, ct);

        var (model, card) = TestVolumes.Model("demo-unet2d");
        using var engine = TestVolumes.Engine();
        var expected = VolumePipelines.For(engine, model, card).Run(image, new VolumeCamRequest
        {
            Class = 2,
            PixelSet = VolumePixelSet.Label(labels, 2),
            Methods = [CamMethod.SegHiResGradCam, CamMethod.SegGradCam],
        }, cancellationToken: ct);

        Assert.Equal(["seg-hires-grad-cam", "seg-grad-cam"], result.Heatmaps.Select(h => h.Method));
        Assert.True(TestVolumes.Same(expected.Heatmaps[CamMethod.SegHiResGradCam], result.Heatmaps[0].Volume));
        Assert.True(TestVolumes.Same(expected.Heatmaps[CamMethod.SegGradCam], result.Heatmaps[1].Volume));
        Assert.Equal(expected.Layer, result.Heatmaps[0].Layer);
        Assert.Equal(expected.SlicesComputed, result.Summary.UnitsComputed);
        Assert.Equal(expected.PixelSetVoxels, result.Summary.PixelSetVoxels);
        Assert.True(result.Summary.PixelSetVoxels > 0);
        Assert.Contains(progress, p => p.Stage == "explain" && p.Done == p.Total);
        Assert.True(slabs >= 2);
        Assert.False(string.IsNullOrEmpty(result.RequestId));
        Assert.Empty(server.Log.Errors);
    }

    [Fact]
    public async Task Without_normalisation_slices_stream_while_the_volume_computes_and_the_range_comes_last()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var (image, _) = TestVolumes.Phantom(seed: 4, slices: 16);
        var id = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;
        var request = Request(id, "demo-unet2d", "kidney", new Proto.PixelSet { All = new Proto.AllPixels() }, "seg-hires-grad-cam", "seg-grad-cam");
        request.Options = new Proto.CamOptions { BatchSize = 2 };
        request.Layers.Add(["bottleneck", "encoder level 1"]);
        using var call = client.Raw.ComputeCam(request, cancellationToken: ct);
        var events = new List<Proto.ComputeCamResponse>();
        await foreach (var m in call.ResponseStream.ReadAllAsync(ct))
        {
            events.Add(m);
        }

        int First(Func<Proto.ComputeCamResponse, bool> p) => events.FindIndex(m => p(m));
        var lastExplain = events.FindLastIndex(m => m.Progress is { Stage: "explain" });
        var headers = events.Where(m => m.Heatmap is not null).Select(m => m.Heatmap).ToList();
        Assert.All(headers, h => Assert.True(h.Streaming));
        Assert.True(First(m => m.Slab is not null) < lastExplain, "the first slab should arrive before the computation ends");
        Assert.True(events.Count(m => m.Slab is not null && events.IndexOf(m) < lastExplain) >= 4);
        var completes = events.Where(m => m.Complete is not null).Select(m => m.Complete).ToList();
        Assert.Equal([0, 1, 2, 3], completes.Select(c => c.Heatmap));
        Assert.Equal(2, headers.Select(h => h.Layer).Distinct().Count());
        Assert.True(First(m => m.Complete is not null) > events.FindLastIndex(m => m.Slab is not null && m.Slab.Heatmap == 0));

        // The same request through the typed client reassembles the in-process result, range included.
        var result = await client.ComputeCamAsync(request, cancellationToken: ct);
        var (model, card) = TestVolumes.Model("demo-unet2d");
        using var engine = TestVolumes.Engine();
        var expected = VolumePipelines.For(engine, model, card).Run(image, new VolumeCamRequest
        {
            Class = 1,
            PixelSet = VolumePixelSet.All(),
            Methods = [CamMethod.SegHiResGradCam, CamMethod.SegGradCam],
            Layers = ["bottleneck", "encoder level 1"],
            BatchSize = 2,
        }, cancellationToken: ct);
        Assert.True(TestVolumes.Same(expected.ByLayer[0].Heatmaps[CamMethod.SegGradCam], result.Heatmaps[1].Volume));
        Assert.True(TestVolumes.Same(expected.ByLayer[1].Heatmaps[CamMethod.SegHiResGradCam], result.Heatmaps[2].Volume));
        Assert.Equal(expected.ByLayer[1].Layer, result.Heatmaps[2].Layer);
        Assert.Equal(completes[1].Max, result.Heatmaps[1].Max);
        Assert.True(result.Heatmaps[1].Max > 0);
    }

    [Fact]
    public async Task ComputeCam_3d_model_with_the_predicted_region_equals_the_in_process_pipeline()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var (image, _) = TestVolumes.Phantom(seed: 5, slices: 16);
        var id = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;
        var result = await client.ComputeCamAsync(Request(id, "demo-unet3d", "kidney", new Proto.PixelSet { Predicted = new Proto.PredictedPixels() }), cancellationToken: ct);

        var (model, card) = TestVolumes.Model("demo-unet3d");
        using var engine = TestVolumes.Engine();
        var expected = VolumePipelines.For(engine, model, card).Run(image, new VolumeCamRequest { Class = 1, PixelSet = VolumePixelSet.Predicted() }, cancellationToken: ct);
        Assert.True(TestVolumes.Same(expected.Heatmaps[CamMethod.SegHiResGradCam], result.Heatmaps[0].Volume));
        Assert.Equal(expected.PixelSetVoxels, result.Summary.PixelSetVoxels);
    }

    [Fact]
    public async Task Segment_equals_the_in_process_label_map()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var (image, _) = TestVolumes.Phantom(seed: 7, slices: 12);
        var id = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;
        var (labels, summary) = await client.SegmentAsync(new Proto.SegmentRequest { Volume = new Proto.VolumeSource { VolumeId = id }, Model = "demo-unet2d" }, cancellationToken: ct);

        var (model, card) = TestVolumes.Model("demo-unet2d");
        using var engine = TestVolumes.Engine();
        var expected = VolumePipelines.For(engine, model, card).Segment(image, 8, cancellationToken: ct);
        Assert.True(TestVolumes.Same(expected, labels));
        Assert.Equal(image.Geometry.Size.Voxels, summary.ClassVoxels.Sum());
        Assert.True(summary.ClassVoxels[1] > 0);
    }

    [Fact]
    public async Task Layers_and_options_map_to_the_pipeline_and_uint8_output_dequantises_within_half_a_step()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var image = TestVolumes.Ct(64, 48, 6, seed: 3);
        var id = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;
        var box = new Proto.VoxelBox();
        box.Min.Add([20, 10, 1]);
        box.Max.Add([40, 30, 5]);
        var request = Request(id, "demo-unet2d", "1", new Proto.PixelSet { Box = box }, "seg-xres-cam");
        request.Layers.Add(["bottleneck", "decoder level 1"]);
        request.Options = new Proto.CamOptions { Relu = false, Normalization = Proto.Normalization.Minmax, NormalizationScope = Proto.NormalizationScope.Slice, XresWindow = 3, XresPool = Proto.XResPool.Max, BatchSize = 3, Resolution = Proto.Resolution.Activation };
        var floats = await client.ComputeCamAsync(request, cancellationToken: ct);
        request.OutputType = Proto.OutputType.Uint8;
        var bytes = await client.ComputeCamAsync(request, cancellationToken: ct);

        var (model, card) = TestVolumes.Model("demo-unet2d");
        using var engine = TestVolumes.Engine();
        var pipeline = VolumePipelines.For(engine, model, card);
        Assert.Equal(2, floats.Heatmaps.Count);
        var expected = pipeline.Run(image, new VolumeCamRequest
        {
            Class = 1,
            PixelSet = VolumePixelSet.Box((20, 10, 1), (40, 30, 5)),
            Methods = [CamMethod.SegXResCam],
            Layers = ["bottleneck", "decoder level 1"], // both layers from the same engine runs, as the server does
            Relu = false,
            Normalization = CamNormalization.MinMax,
            NormalizationScope = NormalizationScope.Slice,
            XResWindow = 3,
            XResPool = XResPool.Max,
            BatchSize = 3,
            Resolution = CamResolution.Activation,
        }, cancellationToken: ct);
        for (var n = 0; n < 2; n++)
        {
            Assert.Equal(expected.ByLayer[n].Layer, floats.Heatmaps[n].Layer);
            Assert.True(TestVolumes.Same(expected.ByLayer[n].Heatmaps[CamMethod.SegXResCam], floats.Heatmaps[n].Volume));
            var step = (floats.Heatmaps[n].Max - floats.Heatmaps[n].Min) / 255;
            Assert.True(step > 0);
            for (var k = 0; k < 6; k++)
            {
                var f = floats.Heatmaps[n].Volume.Slice<float>(k);
                var q = bytes.Heatmaps[n].Volume.Slice<float>(k);
                for (var v = 0; v < f.Length; v++)
                {
                    Assert.True(Math.Abs(f[v] - q[v]) <= (step / 2) + 1e-6, $"voxel {v} of slice {k}: {f[v]} vs {q[v]}");
                }
            }
        }

        Assert.Equal(1, engine.CachedSessions); // one session for both layers: one forward and backward per batch
        Assert.NotEqual(floats.Heatmaps[0].Layer, floats.Heatmaps[1].Layer);
    }

    [Fact]
    public async Task Ground_truth_gives_the_library_metrics_of_each_heatmap()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var (image, labels) = TestVolumes.Phantom(seed: 11, slices: 24);
        var imageId = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;
        var labelsId = (await client.UploadAsync(labels, cancellationToken: ct)).VolumeId;
        var request = Request(imageId, "demo-unet2d", "tumour", Label(labelsId, 2));
        request.GroundTruth = Label(labelsId, 2);
        var result = await client.ComputeCamAsync(request, cancellationToken: ct);

        var truth = VolumeMasks.Equal(labels, 2);
        var heatmap = result.Heatmaps[0].Volume;
        var m = result.Metrics[0];
        Assert.Equal(HeatmapMetrics.EnergyFraction(heatmap, truth).Value, m.EnergyInside);
        Assert.Equal(HeatmapMetrics.MeanDice(heatmap, truth).Value, m.MeanDice);
        Assert.Equal(HeatmapMetrics.AveragePrecision(heatmap, truth).Value, m.Auprc);
        Assert.InRange(m.EnergyInside, 0.0, 1.0);
    }

    [Fact]
    public async Task A_slice_range_explains_only_those_slices_and_matches_the_full_run_there()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var image = TestVolumes.Ct(64, 48, 8, seed: 9);
        var id = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;
        var all = new Proto.PixelSet { All = new Proto.AllPixels() };
        var full = await client.ComputeCamAsync(Request(id, "demo-unet2d", "kidney", all), cancellationToken: ct);
        var one = Request(id, "demo-unet2d", "kidney", all);
        one.Slices = new Proto.SliceSelection { First = 5, Count = 1 };
        var single = await client.ComputeCamAsync(one, cancellationToken: ct);

        Assert.Equal(1, single.Summary.UnitsComputed);
        Assert.Equal(0, single.Summary.UnitsSkipped);
        for (var k = 0; k < 8; k++)
        {
            var s = single.Heatmaps[0].Volume.Slice<float>(k);
            if (k == 5)
            {
                Assert.Equal(full.Heatmaps[0].Volume.Slice<float>(5).ToArray(), s.ToArray());
                Assert.Contains(s.ToArray(), v => v > 0);
            }
            else
            {
                Assert.All(s.ToArray(), v => Assert.Equal(0f, v));
            }
        }
    }

    [Fact]
    public async Task A_one_session_cache_recompiles_between_layers_and_gives_the_same_heatmaps()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync(o => o with { MaxCachedSessions = 1 });
        using var client = server.Client();
        var id = (await client.UploadAsync(TestVolumes.Ct(64, 48, 4, seed: 5), cancellationToken: ct)).VolumeId;
        var all = new Proto.PixelSet { All = new Proto.AllPixels() };
        var bottleneck = Request(id, "demo-unet2d", "kidney", all);
        bottleneck.Layers.Add("bottleneck");
        var decoder = Request(id, "demo-unet2d", "kidney", all);
        decoder.Layers.Add("decoder level 1");

        var first = await client.ComputeCamAsync(bottleneck, cancellationToken: ct);
        var other = await client.ComputeCamAsync(decoder, cancellationToken: ct); // evicts the bottleneck session
        var again = await client.ComputeCamAsync(bottleneck, cancellationToken: ct);

        Assert.True(TestVolumes.Same(first.Heatmaps[0].Volume, again.Heatmaps[0].Volume));
        Assert.False(TestVolumes.Same(first.Heatmaps[0].Volume, other.Heatmaps[0].Volume));
        Assert.Empty(server.Log.Errors);
    }

    [Fact]
    public async Task Inline_volumes_work_without_an_upload_and_identical_uploads_are_stored_once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var image = TestVolumes.Ct(32, 32, 2, seed: 1);
        var first = await client.UploadAsync(image, cancellationToken: ct);
        var second = await client.UploadAsync(image, cancellationToken: ct);
        Assert.Equal(first.VolumeId, second.VolumeId);
        Assert.False(first.Deduplicated);
        Assert.True(second.Deduplicated);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(image.SliceData(0).ToArray().Concat(image.SliceData(1).ToArray()).ToArray())), first.Sha256);

        var data = image.SliceData(0).ToArray().Concat(image.SliceData(1).ToArray()).ToArray();
        var inline = new Proto.ComputeCamRequest
        {
            Volume = new Proto.VolumeSource { Inline = new Proto.InlineVolume { Header = SegCamClient.Header(image), Data = Google.Protobuf.ByteString.CopyFrom(data) } },
            Model = "demo-unet2d",
            TargetClass = "kidney",
            PixelSet = new Proto.PixelSet { All = new Proto.AllPixels() },
        };
        var byInline = await client.ComputeCamAsync(inline, cancellationToken: ct);
        var byId = await client.ComputeCamAsync(Request(first.VolumeId, "demo-unet2d", "kidney", new Proto.PixelSet { All = new Proto.AllPixels() }), cancellationToken: ct);
        Assert.True(TestVolumes.Same(byId.Heatmaps[0].Volume, byInline.Heatmaps[0].Volume));

        Assert.True(await client.DeleteAsync(first.VolumeId, ct));
        Assert.False(await client.DeleteAsync(first.VolumeId, ct));
        var gone = await Assert.ThrowsAsync<RemoteCallException>(() => client.ComputeCamAsync(Request(first.VolumeId, "demo-unet2d", "kidney", new Proto.PixelSet { All = new Proto.AllPixels() }), cancellationToken: ct));
        Assert.Equal(Grpc.Core.StatusCode.NotFound, gone.Status);
    }
}

/// <summary>Records progress synchronously (Progress&lt;T&gt; would post to the thread pool).</summary>
internal sealed class SyncProgress(List<Proto.Progress> list) : IProgress<Proto.Progress>
{
    public void Report(Proto.Progress value)
    {
        lock (list)
        {
            list.Add(value);
        }
    }
}
