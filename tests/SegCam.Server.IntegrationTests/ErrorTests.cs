using Google.Protobuf;
using Grpc.Core;
using SegCam.Client;
using SegCam.Server.IntegrationTests.Infrastructure;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Server.IntegrationTests;

/// <summary>Every malformed request gets the status of STYLE.md's table, a message naming the field, and the trailers.</summary>
public sealed class ErrorTests
{
    public static TheoryData<string, StatusCode, string> BadCamRequests() => new()
    {
        { "unknown model", StatusCode.NotFound, "model 'no-such-model' not found; known models: demo-unet2d, demo-unet3d" },
        { "unknown volume", StatusCode.NotFound, "volume.volume_id 'vol-missing'" },
        { "no volume", StatusCode.InvalidArgument, "volume is missing" },
        { "unknown method", StatusCode.InvalidArgument, "unknown CAM method 'grad-cam-9000'; allowed: seg-grad-cam" },
        { "unknown class", StatusCode.NotFound, "class 'spleen' is not one of the model's classes" },
        { "empty class", StatusCode.InvalidArgument, "target_class is empty" },
        { "no pixel set", StatusCode.InvalidArgument, "pixel_set is missing; allowed: runs, voxels, box, label, predicted, all" },
        { "unpaired runs", StatusCode.InvalidArgument, "pixel_set.runs has 2 starts and 1 lengths" },
        { "run outside", StatusCode.InvalidArgument, "voxel run (1000000, 5) is outside the image" },
        { "voxels not triples", StatusCode.InvalidArgument, "pixel_set.voxels.ijk has 4 values" },
        { "box outside", StatusCode.InvalidArgument, "is empty or outside the image" },
        { "unknown label map", StatusCode.NotFound, "pixel_set.label.label_volume_id 'vol-nope'" },
        { "unknown layer", StatusCode.NotFound, "no-such-layer" },
        { "batch too big", StatusCode.InvalidArgument, "options.batch_size is 1000; allowed: 0 (default 8) or 1..256" },
        { "chunk too small", StatusCode.InvalidArgument, "chunk_bytes is 10; allowed" },
        { "slice range outside", StatusCode.InvalidArgument, "slice range first 50, count 1 is outside the 4 slices" },
        { "bad axis", StatusCode.InvalidArgument, "slice axis 'oblique' is not allowed" },
        { "slice range on 3-D", StatusCode.InvalidArgument, "a slice range applies to 2-D models" },
        { "bad output type", StatusCode.InvalidArgument, "output_type is 7; allowed: FLOAT32, UINT8" },
        { "duplicate layer", StatusCode.InvalidArgument, "layers lists a layer twice" },
    };

    [Theory]
    [MemberData(nameof(BadCamRequests))]
    public async Task Malformed_ComputeCam_requests_get_the_right_status_and_a_message_naming_the_field(string mutation, StatusCode status, string message)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var image = TestVolumes.Ct(32, 32, 4, seed: 2);
        var id = (await client.UploadAsync(image, cancellationToken: ct)).VolumeId;
        var request = new Proto.ComputeCamRequest
        {
            Volume = new Proto.VolumeSource { VolumeId = id },
            Model = "demo-unet2d",
            TargetClass = "tumour",
            PixelSet = new Proto.PixelSet { All = new Proto.AllPixels() },
        };
        Mutate(request, mutation);

        var error = await Assert.ThrowsAsync<RemoteCallException>(() => client.ComputeCamAsync(request, cancellationToken: ct));
        Assert.Equal(status, error.Status);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(error.RequestId));
        Assert.NotNull(error.ServerKind);
        var rich = ((RpcException)error.InnerException!).GetRpcStatus()!;
        Assert.Equal((int)status, rich.Code);
        var info = rich.Details.Single(d => d.Is(Google.Rpc.ErrorInfo.Descriptor)).Unpack<Google.Rpc.ErrorInfo>();
        Assert.Equal(("segcam.v1", error.ServerKind, error.RequestId), (info.Domain, info.Reason, info.Metadata["request_id"]));
        Assert.Empty(server.Log.Errors);
        Assert.Equal(0, server.Service<Work.WorkQueue>().Running);

        // The server is still fine afterwards.
        var ok = new Proto.ComputeCamRequest { Volume = new Proto.VolumeSource { VolumeId = id }, Model = "demo-unet2d", TargetClass = "1", PixelSet = new Proto.PixelSet { All = new Proto.AllPixels() } };
        Assert.Single((await client.ComputeCamAsync(ok, cancellationToken: ct)).Heatmaps);
    }

    [Theory]
    [InlineData("unpaired runs", "pixel_set.runs")]
    [InlineData("batch too big", "options.batch_size")]
    [InlineData("chunk too small", "chunk_bytes")]
    [InlineData("no pixel set", "pixel_set")]
    [InlineData("empty class", "target_class")]
    [InlineData("unknown method", null)]
    public async Task Invalid_arguments_name_the_field_in_a_bad_request_detail(string mutation, string? field)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client();
        var id = (await client.UploadAsync(TestVolumes.Ct(32, 32, 4, seed: 2), cancellationToken: ct)).VolumeId;
        var request = new Proto.ComputeCamRequest { Volume = new Proto.VolumeSource { VolumeId = id }, Model = "demo-unet2d", TargetClass = "tumour", PixelSet = new Proto.PixelSet { All = new Proto.AllPixels() } };
        Mutate(request, mutation);
        var error = await Assert.ThrowsAsync<RemoteCallException>(() => client.ComputeCamAsync(request, cancellationToken: ct));
        var details = ((RpcException)error.InnerException!).GetRpcStatus()!.Details;
        var violations = details.Where(d => d.Is(Google.Rpc.BadRequest.Descriptor)).SelectMany(d => d.Unpack<Google.Rpc.BadRequest>().FieldViolations).ToList();
        Assert.Equal(field, violations.SingleOrDefault()?.Field);
    }

    private static void Mutate(Proto.ComputeCamRequest r, string mutation)
    {
        switch (mutation)
        {
            case "unknown model": r.Model = "no-such-model"; break;
            case "unknown volume": r.Volume.VolumeId = "vol-missing"; break;
            case "no volume": r.Volume = null; break;
            case "unknown method": r.Methods.Add("grad-cam-9000"); break;
            case "unknown class": r.TargetClass = "spleen"; break;
            case "empty class": r.TargetClass = string.Empty; break;
            case "no pixel set": r.PixelSet = null; break;
            case "unpaired runs": r.PixelSet = new Proto.PixelSet { Runs = new Proto.VoxelRuns { Starts = { 1, 2 }, Lengths = { 3 } } }; break;
            case "run outside": r.PixelSet = new Proto.PixelSet { Runs = new Proto.VoxelRuns { Starts = { 1_000_000 }, Lengths = { 5 } } }; break;
            case "voxels not triples": r.PixelSet = new Proto.PixelSet { Voxels = new Proto.VoxelList { Ijk = { 1, 2, 3, 4 } } }; break;
            case "box outside": r.PixelSet = new Proto.PixelSet { Box = new Proto.VoxelBox { Min = { 0, 0, 0 }, Max = { 40, 10, 2 } } }; break;
            case "unknown label map": r.PixelSet = new Proto.PixelSet { Label = new Proto.LabelPixels { LabelVolumeId = "vol-nope", Label = 1 } }; break;
            case "unknown layer": r.Layers.Add("no-such-layer"); break;
            case "batch too big": r.Options = new Proto.CamOptions { BatchSize = 1000 }; break;
            case "chunk too small": r.ChunkBytes = 10; break;
            case "slice range outside": r.Slices = new Proto.SliceSelection { First = 50, Count = 1 }; break;
            case "bad axis": r.Slices = new Proto.SliceSelection { Axis = "oblique" }; break;
            case "slice range on 3-D": r.Model = "demo-unet3d"; r.Slices = new Proto.SliceSelection { First = 1, Count = 1 }; break;
            case "bad output type": r.OutputType = (Proto.OutputType)7; break;
            case "duplicate layer": r.Layers.Add(["bottleneck", "bottleneck"]); break;
            default: throw new ArgumentOutOfRangeException(nameof(mutation), mutation, "unknown mutation");
        }
    }

    public static TheoryData<string, StatusCode, string> BadUploads() => new()
    {
        { "empty stream", StatusCode.InvalidArgument, "the upload stream is empty" },
        { "chunk first", StatusCode.InvalidArgument, "it must be the header" },
        { "two sizes", StatusCode.InvalidArgument, "header.geometry.size is [4, 4]; it must be 3 positive voxel counts" },
        { "zero spacing", StatusCode.InvalidArgument, "header.geometry.spacing is [1, 0, 1]" },
        { "sheared direction", StatusCode.InvalidArgument, "not orthonormal" },
        { "no voxel type", StatusCode.InvalidArgument, "header.voxel_type is Unspecified; allowed: UINT8" },
        { "gap", StatusCode.InvalidArgument, "chunk.offset is 10, but 0 bytes have arrived" },
        { "too long", StatusCode.InvalidArgument, "the header announces 64 (4×4×4 × UInt8)" },
        { "incomplete", StatusCode.InvalidArgument, "the upload is incomplete: 10 of 64 voxel bytes arrived" },
        { "header twice", StatusCode.InvalidArgument, "only chunks may follow the header" },
        { "too many voxels", StatusCode.ResourceExhausted, "this server accepts at most 1000000" },
    };

    [Theory]
    [MemberData(nameof(BadUploads))]
    public async Task Malformed_uploads_are_refused_and_leave_nothing_reserved(string mutation, StatusCode status, string message)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync(o => o with { MaxVoxels = 1_000_000 });
        using var client = server.Client();
        var header = new Proto.VolumeHeader { Geometry = new Proto.VolumeGeometry { Size = { 4, 4, 4 } }, VoxelType = Proto.VoxelType.Uint8 };
        var messages = new List<Proto.UploadVolumeRequest>();
        var chunk = new Proto.VolumeChunk { Offset = 0, Data = ByteString.CopyFrom(new byte[64]) };
        switch (mutation)
        {
            case "empty stream": break;
            case "chunk first": messages.Add(new() { Chunk = chunk }); break;
            case "two sizes": header.Geometry.Size.RemoveAt(2); messages.Add(new() { Header = header }); break;
            case "zero spacing": header.Geometry.Spacing.Add([1, 0, 1]); messages.Add(new() { Header = header }); break;
            case "sheared direction": header.Geometry.Direction.Add([1, 0.5, 0, 0, 1, 0, 0, 0, 1]); messages.Add(new() { Header = header }); break;
            case "no voxel type": header.VoxelType = Proto.VoxelType.Unspecified; messages.Add(new() { Header = header }); break;
            case "gap": messages.Add(new() { Header = header }); messages.Add(new() { Chunk = new Proto.VolumeChunk { Offset = 10, Data = ByteString.CopyFrom(new byte[5]) } }); break;
            case "too long": messages.Add(new() { Header = header }); messages.Add(new() { Chunk = new Proto.VolumeChunk { Data = ByteString.CopyFrom(new byte[65]) } }); break;
            case "incomplete": messages.Add(new() { Header = header }); messages.Add(new() { Chunk = new Proto.VolumeChunk { Data = ByteString.CopyFrom(new byte[10]) } }); break;
            case "header twice": messages.Add(new() { Header = header }); messages.Add(new() { Header = header }); break;
            case "too many voxels": header.Geometry.Size[0] = 4000; header.Geometry.Size[1] = 4000; messages.Add(new() { Header = header }); break;
            default: throw new ArgumentOutOfRangeException(nameof(mutation), mutation, "unknown mutation");
        }

        using var call = client.Raw.UploadVolume(cancellationToken: ct);
        foreach (var m in messages)
        {
            await call.RequestStream.WriteAsync(m, ct);
        }

        await call.RequestStream.CompleteAsync();
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
        Assert.Equal(status, error.StatusCode);
        Assert.Contains(message, error.Status.Detail, StringComparison.Ordinal);
        Assert.NotNull(error.Trailers.GetValue("segcam-request-id"));
        Assert.Equal(0, server.Service<Storage.VolumeStore>().Bytes);
        Assert.Equal(0, server.Service<Storage.VolumeStore>().Count);
        Assert.Empty(server.Log.Errors);
    }

    [Fact]
    public async Task A_request_whose_heatmaps_would_exceed_the_result_limit_is_refused_before_computing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync(o => o with { MaxResultBytes = 100_000 });
        using var client = server.Client();
        var id = (await client.UploadAsync(TestVolumes.Ct(64, 64, 4, seed: 1), cancellationToken: ct)).VolumeId; // 16 384 voxels
        var request = new Proto.ComputeCamRequest { Volume = new Proto.VolumeSource { VolumeId = id }, Model = "demo-unet2d", TargetClass = "1", PixelSet = new Proto.PixelSet { All = new Proto.AllPixels() } };
        Assert.Single((await client.ComputeCamAsync(request, cancellationToken: ct)).Heatmaps); // 65 536 bytes: fits
        request.Methods.Add(["seg-grad-cam", "seg-hires-grad-cam"]);
        var error = await Assert.ThrowsAsync<RemoteCallException>(() => client.ComputeCamAsync(request, cancellationToken: ct));
        Assert.Equal(StatusCode.ResourceExhausted, error.Status);
        Assert.Contains("would produce 131072 bytes of heatmaps (2 methods × 1 layers × 16384 voxels × 4 bytes); this server allows 100000", error.Message, StringComparison.Ordinal);
        Assert.Equal(100_000, (await client.GetServerInfoAsync(ct)).Limits.MaxResultBytes);
    }

    [Fact]
    public async Task Oversized_inline_volumes_and_a_full_store_are_resource_exhausted()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync(o => o with { MaxInlineBytes = 1024, MaxStoredBytes = 100_000 });
        using var client = server.Client();
        var big = TestVolumes.Ct(64, 64, 4, seed: 1); // 65 536 bytes: fits the store once, not twice
        var inline = new Proto.ComputeCamRequest
        {
            Volume = new Proto.VolumeSource { Inline = new Proto.InlineVolume { Header = SegCamClient.Header(big), Data = ByteString.CopyFrom(new byte[16]) } },
            Model = "demo-unet2d",
            TargetClass = "1",
            PixelSet = new Proto.PixelSet { All = new Proto.AllPixels() },
        };
        var error = await Assert.ThrowsAsync<RemoteCallException>(() => client.ComputeCamAsync(inline, cancellationToken: ct));
        Assert.Equal(StatusCode.ResourceExhausted, error.Status);
        Assert.Contains("inline volumes may hold at most 1024", error.Message, StringComparison.Ordinal);

        await client.UploadAsync(big, cancellationToken: ct);
        var full = await Assert.ThrowsAsync<RemoteCallException>(() => client.UploadAsync(TestVolumes.Ct(64, 64, 4, seed: 2), cancellationToken: ct));
        Assert.Equal(StatusCode.ResourceExhausted, full.Status);
        Assert.Contains("volume store is full", full.Message, StringComparison.Ordinal);
        Assert.Equal(64 * 64 * 4 * 4, server.Service<Storage.VolumeStore>().Bytes);
    }
}
