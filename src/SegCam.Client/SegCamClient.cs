using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using SegCam.Protocol.Mapping;
using SegCam.Volumes;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Client;

/// <summary>
/// A typed client of a SegCam server: uploads volumes in chunks, runs Segment and ComputeCam, and reassembles the
/// streamed slabs into volumes with the image's geometry. Errors surface as <see cref="RemoteCallException"/>; a
/// cancelled token cancels the call on the server too.
/// </summary>
public sealed class SegCamClient : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly SegCamClientOptions _options;
    private readonly Metadata _headers = [];

    /// <summary>Connects lazily to <paramref name="address"/> (http://host:port, or https:// for TLS).</summary>
    public SegCamClient(Uri address, SegCamClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        _options = options ?? new SegCamClientOptions();
        _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            MaxReceiveMessageSize = _options.MaxMessageBytes,
            MaxSendMessageSize = _options.MaxMessageBytes,
            // Large HTTP/2 windows: heatmap downloads are not throttled to one chunk per round trip.
            HttpHandler = _options.HttpHandler ?? new SocketsHttpHandler { InitialHttp2StreamWindowSize = 16 << 20, EnableMultipleHttp2Connections = true },
            DisposeHttpClient = true,
        });
        if (_options.ApiKey is { Length: > 0 } key)
        {
            _headers.Add("authorization", $"Bearer {key}");
        }

        Raw = new Proto.SegCamService.SegCamServiceClient(_channel);
    }

    /// <summary>The generated stub, for calls this type does not wrap.</summary>
    public Proto.SegCamService.SegCamServiceClient Raw { get; }

    /// <summary>The channel (health and reflection clients can share it).</summary>
    public ChannelBase Channel => _channel;

    public Task<Proto.GetServerInfoResponse> GetServerInfoAsync(CancellationToken cancellationToken = default)
        => Call(() => Raw.GetServerInfoAsync(new Proto.GetServerInfoRequest(), Options(cancellationToken)).ResponseAsync);

    public async Task<IReadOnlyList<Proto.ModelInfo>> ListModelsAsync(CancellationToken cancellationToken = default)
        => (await Call(() => Raw.ListModelsAsync(new Proto.ListModelsRequest(), Options(cancellationToken)).ResponseAsync).ConfigureAwait(false)).Models;

    /// <summary>Uploads <paramref name="volume"/> slice by slice in chunks; returns the server's id.</summary>
    public Task<Proto.UploadVolumeResponse> UploadAsync(Volume volume, string? name = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(volume);
        return Call(async () =>
        {
            using var call = Raw.UploadVolume(Options(cancellationToken));
            try
            {
                await call.RequestStream.WriteAsync(new Proto.UploadVolumeRequest { Header = Header(volume, name) }, cancellationToken).ConfigureAwait(false);
                long offset = 0;
                for (var k = 0; k < volume.Geometry.Size.K; k++)
                {
                    var sliceBytes = volume.SliceBytes;
                    for (var from = 0; from < sliceBytes; from += _options.UploadChunkBytes)
                    {
                        var n = Math.Min(_options.UploadChunkBytes, sliceBytes - from);
                        var chunk = new Proto.VolumeChunk { Offset = offset, Data = ByteString.CopyFrom(volume.SliceData(k).Slice(from, n)) };
                        await call.RequestStream.WriteAsync(new Proto.UploadVolumeRequest { Chunk = chunk }, cancellationToken).ConfigureAwait(false);
                        offset += n;
                    }
                }
            }
            catch (Exception ex) when (ex is RpcException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
            {
                // The server ended the call early (a refused header, a full store): its status says why.
                return await call.ResponseAsync.ConfigureAwait(false);
            }

            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            return await call.ResponseAsync.ConfigureAwait(false);
        });
    }

    public async Task<bool> DeleteAsync(string volumeId, CancellationToken cancellationToken = default)
        => (await Call(() => Raw.DeleteVolumeAsync(new Proto.DeleteVolumeRequest { VolumeId = volumeId }, Options(cancellationToken)).ResponseAsync).ConfigureAwait(false)).Existed;

    /// <summary>The model's label map of the request's volume, on its grid.</summary>
    public Task<(Volume Labels, Proto.SegmentSummary Summary)> SegmentAsync(Proto.SegmentRequest request, IProgress<Proto.Progress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Call(async () =>
        {
            using var call = Raw.Segment(request, Options(cancellationToken));
            SlabAssembler? labels = null;
            Proto.SegmentSummary? summary = null;
            await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                switch (message.EventCase)
                {
                    case Proto.SegmentResponse.EventOneofCase.Progress:
                        progress?.Report(message.Progress);
                        break;
                    case Proto.SegmentResponse.EventOneofCase.Header:
                        labels = new SlabAssembler(new Volume(GeometryMapping.ToGeometry(message.Header.Geometry, "header.geometry"), VoxelType.UInt8), Proto.VoxelType.Uint8);
                        break;
                    case Proto.SegmentResponse.EventOneofCase.Labels:
                        (labels ?? throw new Common.Errors.InvalidRequestException("the server sent label slabs before the header")).Add(message.Labels);
                        break;
                    case Proto.SegmentResponse.EventOneofCase.Summary:
                        summary = message.Summary;
                        break;
                }
            }

            return labels is { Complete: true } && summary is not null
                ? (labels.Target, summary)
                : throw new Common.Errors.InvalidRequestException("the server ended the label stream before every voxel and the summary arrived");
        });
    }

    /// <summary>
    /// Runs ComputeCam and reassembles every heatmap (float32, on the image grid). <paramref name="onSlab"/> sees each
    /// heatmap's slices as they complete (index, slices complete), e.g. to show them while the rest streams.
    /// </summary>
    public Task<RemoteCamResult> ComputeCamAsync(Proto.ComputeCamRequest request, IProgress<Proto.Progress>? progress = null, Action<int, int>? onSlab = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Call(async () =>
        {
            using var call = Raw.ComputeCam(request, Options(cancellationToken));
            var headers = await call.ResponseHeadersAsync.ConfigureAwait(false);
            var requestId = headers.GetValue(ErrorDetails.RequestIdKey);
            var assemblers = new List<SlabAssembler>();
            var announced = new List<Proto.HeatmapHeader>();
            var metrics = new Dictionary<int, Proto.HeatmapMetrics>();
            var complete = new Dictionary<int, Proto.HeatmapComplete>();
            Proto.ComputeCamSummary? summary = null;
            await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                switch (message.EventCase)
                {
                    case Proto.ComputeCamResponse.EventOneofCase.Progress:
                        progress?.Report(message.Progress);
                        break;
                    case Proto.ComputeCamResponse.EventOneofCase.Heatmap:
                        var h = message.Heatmap;
                        announced.Add(h);
                        assemblers.Add(new SlabAssembler(new Volume(GeometryMapping.ToGeometry(h.Geometry, "heatmap.geometry"), VoxelType.Float32), h.VoxelType, h.Scale, h.Offset, h.FirstSlice, h.HasSliceCount ? h.SliceCount : null));
                        break;
                    case Proto.ComputeCamResponse.EventOneofCase.Slab:
                        var slab = message.Slab;
                        if (slab.Heatmap < 0 || slab.Heatmap >= assemblers.Count)
                        {
                            throw new Common.Errors.InvalidRequestException($"the server sent a slab of heatmap {slab.Heatmap} before announcing it");
                        }

                        assemblers[slab.Heatmap].Add(slab);
                        onSlab?.Invoke(slab.Heatmap, slab.SlicesComplete);
                        break;
                    case Proto.ComputeCamResponse.EventOneofCase.Complete:
                        complete[message.Complete.Heatmap] = message.Complete;
                        break;
                    case Proto.ComputeCamResponse.EventOneofCase.Metrics:
                        metrics[message.Metrics.Heatmap] = message.Metrics;
                        break;
                    case Proto.ComputeCamResponse.EventOneofCase.Summary:
                        summary = message.Summary;
                        break;
                }
            }

            if (summary is null || assemblers.Any(a => !a.Complete) || complete.Count != assemblers.Count)
            {
                throw new Common.Errors.InvalidRequestException("the server ended the heatmap stream before every voxel, every heatmap's range and the summary arrived");
            }

            var heatmaps = announced.Select((h, i) => new RemoteHeatmap(h.Method, h.Layer, assemblers[i].Target, complete[i].Min, complete[i].Max)).ToArray();
            return new RemoteCamResult(heatmaps, metrics, summary, requestId);
        });
    }

    public void Dispose() => _channel.Dispose();

    /// <summary>The upload header of <paramref name="volume"/>.</summary>
    public static Proto.VolumeHeader Header(Volume volume, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(volume);
        return new Proto.VolumeHeader { Geometry = GeometryMapping.ToProto(volume.Geometry), VoxelType = GeometryMapping.ToProto(volume.Type), Name = name ?? string.Empty };
    }

    private CallOptions Options(CancellationToken cancellationToken) => new(_headers, cancellationToken: cancellationToken);

    private static async Task<T> Call<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled)
        {
            throw new RemoteCallException(ex);
        }
    }
}
