using System.Diagnostics;
using System.Reflection;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using SegCam.Cam.Methods;
using SegCam.Common.Errors;
using SegCam.Pipelines;
using SegCam.Server.Hosting;
using SegCam.Server.Interceptors;
using SegCam.Protocol.Mapping;
using SegCam.Server.Mapping;
using SegCam.Server.Models;
using SegCam.Server.Storage;
using SegCam.Server.Work;
using SegCam.Volumes;
using SegCam.Volumes.Metrics;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Server.Services;

/// <summary>
/// segcam.v1.SegCamService: validates and maps each request, runs the volume pipeline on a worker thread (within the
/// work queue's limits, with the call's cancellation token), and streams progress and results back.
/// </summary>
internal sealed class SegCamGrpcService(
    SegCamServerOptions options,
    EngineHost engine,
    ModelRegistry models,
    VolumeStore store,
    VolumeSources sources,
    WorkQueue queue,
    ServerMetrics metrics,
    ILogger<SegCamGrpcService> logger) : Proto.SegCamService.SegCamServiceBase
{
    /// <summary>The server's version (the assembly's informational version).</summary>
    public static string Version { get; } = (typeof(SegCamGrpcService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    public override Task<Proto.GetServerInfoResponse> GetServerInfo(Proto.GetServerInfoRequest request, ServerCallContext context)
    {
        var info = new Proto.GetServerInfoResponse
        {
            Version = Version,
            ExecutionProvider = engine.Provider,
            DeviceNote = engine.DeviceNote,
            AuthRequired = options.ApiKey is { Length: > 0 },
            Protocol = "segcam.v1",
            Limits = new Proto.ServerLimits
            {
                MaxVoxels = options.MaxVoxels,
                MaxMessageBytes = options.MaxMessageBytes,
                DefaultChunkBytes = options.ChunkBytes,
                MaxStoredBytes = options.MaxStoredBytes,
                VolumeIdleSeconds = (int)options.VolumeIdle.TotalSeconds,
                MaxConcurrent = options.MaxConcurrent,
                MaxQueued = options.MaxQueued,
                MaxInlineBytes = options.MaxInlineBytes,
                MaxResultBytes = options.MaxResultBytes,
            },
        };
        info.Methods.Add(CamMethodNames.All);
        info.PixelSetKinds.Add(PixelSetMapping.Kinds);
        return Task.FromResult(info);
    }

    public override Task<Proto.ListModelsResponse> ListModels(Proto.ListModelsRequest request, ServerCallContext context)
    {
        var response = new Proto.ListModelsResponse();
        response.Models.Add(models.All.Select(ModelInfoMapping.ToProto));
        return Task.FromResult(response);
    }

    public override async Task<Proto.UploadVolumeResponse> UploadVolume(IAsyncStreamReader<Proto.UploadVolumeRequest> requestStream, ServerCallContext context)
    {
        var token = context.CancellationToken;
        if (!await requestStream.MoveNext(token).ConfigureAwait(false))
        {
            throw new InvalidRequestException("the upload stream is empty; send the header first, then the voxel chunks");
        }

        var first = requestStream.Current;
        if (first.PartCase != Proto.UploadVolumeRequest.PartOneofCase.Header)
        {
            throw new InvalidRequestException($"the first upload message is a {first.PartCase}; it must be the header (geometry and voxel type)");
        }

        using var assembler = new VolumeAssembler(first.Header, options.MaxVoxels, "header");
        store.Reserve(assembler.ExpectedBytes);
        var kept = false;
        try
        {
            while (await requestStream.MoveNext(token).ConfigureAwait(false))
            {
                var message = requestStream.Current;
                if (message.PartCase != Proto.UploadVolumeRequest.PartOneofCase.Chunk)
                {
                    throw new InvalidRequestException($"upload message after the header is a {message.PartCase}; only chunks may follow the header");
                }

                assembler.Append(message.Chunk.Offset, message.Chunk.Data.Span, "chunk");
            }

            var (volume, sha, id) = assembler.Complete("the upload");
            var (_, existed) = store.Add(id, volume, sha, assembler.ExpectedBytes);
            kept = true;
            metrics.Uploaded(assembler.Received);
            Log.VolumeStored(logger, id, volume.Geometry.Size.ToString(), volume.Type.ToString(), assembler.ExpectedBytes, existed);
            return new Proto.UploadVolumeResponse
            {
                VolumeId = id,
                BytesReceived = assembler.Received,
                Deduplicated = existed,
                Sha256 = sha,
                IdleSeconds = (int)options.VolumeIdle.TotalSeconds,
            };
        }
        finally
        {
            if (!kept)
            {
                store.Release(assembler.ExpectedBytes);
            }
        }
    }

    public override Task<Proto.DeleteVolumeResponse> DeleteVolume(Proto.DeleteVolumeRequest request, ServerCallContext context)
    {
        if (string.IsNullOrEmpty(request.VolumeId))
        {
            throw new InvalidRequestException("volume_id is empty; give the id UploadVolume returned");
        }

        return Task.FromResult(new Proto.DeleteVolumeResponse { Existed = store.Delete(request.VolumeId) });
    }

    public override async Task Segment(Proto.SegmentRequest request, IServerStreamWriter<Proto.SegmentResponse> responseStream, ServerCallContext context)
    {
        var token = context.CancellationToken;
        var clock = Stopwatch.StartNew();
        var entry = models.Get(request.Model);
        var image = sources.Resolve(request.Volume, "volume");
        var batch = CamRequestMapping.Batch(request.BatchSize, "batch_size");
        CamRequestMapping.CheckResultSize(0, 0, image.Geometry.Size.Voxels, labelMap: true, options.MaxResultBytes);

        var chunk = CamRequestMapping.ChunkBytes(request.ChunkBytes, options.ChunkBytes, "chunk_bytes");
        var progress = new ProgressStream();
        Task Write(Proto.Progress p) => responseStream.WriteAsync(new Proto.SegmentResponse { Progress = p }, token);

        using var slot = await EnterQueue(Write, token).ConfigureAwait(false);
        var queued = clock.Elapsed;
        var pipeline = entry.Pipeline(engine.Engine);
        var labels = await progress.RunAsync(() => pipeline.Segment(image, batch, progress, token), Write, null, token).ConfigureAwait(false);
        var computed = clock.Elapsed - queued;

        var counts = new long[entry.Card.Classes.Count];
        for (var k = 0; k < labels.Geometry.Size.K; k++)
        {
            foreach (var v in labels.Slice<byte>(k))
            {
                counts[Math.Min(v, counts.Length - 1)]++;
            }
        }

        var header = new Proto.SegmentHeader { Geometry = GeometryMapping.ToProto(labels.Geometry) };
        header.Classes.Add(entry.Card.Classes);
        await responseStream.WriteAsync(new Proto.SegmentResponse { Header = header }, token).ConfigureAwait(false);
        foreach (var slab in SlabStreaming.Raw(labels, 0, chunk, Range.All))
        {
            await responseStream.WriteAsync(new Proto.SegmentResponse { Labels = slab }, token).ConfigureAwait(false);
            metrics.Streamed(slab.Data.Length);
        }

        var summary = new Proto.SegmentSummary { Timings = Timings(queued, computed, clock.Elapsed) };
        summary.ClassVoxels.Add(counts);
        await responseStream.WriteAsync(new Proto.SegmentResponse { Summary = summary }, token).ConfigureAwait(false);
    }

    public override async Task ComputeCam(Proto.ComputeCamRequest request, IServerStreamWriter<Proto.ComputeCamResponse> responseStream, ServerCallContext context)
    {
        var token = context.CancellationToken;
        var clock = Stopwatch.StartNew();

        // Everything is checked before the call waits for a slot or allocates heatmaps.
        var entry = models.Get(request.Model);
        var image = sources.Resolve(request.Volume, "volume");
        var methods = CamRequestMapping.Methods(request.Methods);
        var pixelSet = PixelSetMapping.ToPixelSet(request.PixelSet, store, "pixel_set");
        var truth = request.GroundTruth is null ? null : PixelSetMapping.ToPixelSet(request.GroundTruth, store, "ground_truth").ToMask(image.Geometry);
        var chunk = CamRequestMapping.ChunkBytes(request.ChunkBytes, options.ChunkBytes, "chunk_bytes");
        var output = request.OutputType is Proto.OutputType.Float32 or Proto.OutputType.Uint8
            ? request.OutputType
            : throw new InvalidRequestException($"output_type is {request.OutputType}; allowed: FLOAT32, UINT8");
        var layers = CamRequestMapping.Layers(request.Layers);
        var run = CamRequestMapping.ToRequest(request, entry.Card, pixelSet, methods, layers);
        CamRequestMapping.CheckResultSize(methods.Count, layers.Count, image.Geometry.Size.Voxels, pixelSet.IsPredicted, options.MaxResultBytes);

        var progress = new ProgressStream();
        Task Write(Proto.Progress p) => responseStream.WriteAsync(new Proto.ComputeCamResponse { Progress = p }, token);

        using var slot = await EnterQueue(Write, token).ConfigureAwait(false);
        var queued = clock.Elapsed;
        var pipeline = entry.Pipeline(engine.Engine);
        // Every layer and method comes from the same engine runs (one forward and backward per batch). Slices stream
        // as they finish when the pipeline can say so (2-D along k, no normalisation) and the output needs no global
        // range (float32); otherwise the heatmaps follow the run.
        var range = SliceRangeAlongK(run, image, entry.Card);
        var streams = range is not null && output == Proto.OutputType.Float32;
        var streamer = new HeatmapStreamer(responseStream, metrics, methods, output, chunk, truth, token);
        var result = await progress.RunAsync(() => pipeline.Run(image, streams ? run with { FinalSlices = progress } : run, progress, token), Write, streams ? f => streamer.OnFinalAsync(f, range!.Value) : null, token).ConfigureAwait(false);
        await streamer.FinishAsync(result).ConfigureAwait(false);
        var summary = new Proto.ComputeCamSummary
        {
            ExecutionProvider = engine.Provider,
            UnitsComputed = result.SlicesComputed,
            UnitsSkipped = result.SlicesSkipped,
            PixelSetVoxels = result.PixelSetVoxels,
        };
        summary.Layers.Add(result.ByLayer.Select(l => l.Layer));
        var computed = clock.Elapsed - queued;
        Log.CamComputed(logger, entry.Card.Id, run.Class, string.Join(",", methods.Select(m => m.Id())), string.Join(",", summary.Layers), summary.UnitsComputed, summary.PixelSetVoxels, computed.TotalSeconds);
        summary.Timings = Timings(queued, computed, clock.Elapsed);
        await responseStream.WriteAsync(new Proto.ComputeCamResponse { Summary = summary }, token).ConfigureAwait(false);
    }

    // The k-slices a streaming run covers ([0, K) or the requested range), or null when it cannot stream.
    private static (int First, int End)? SliceRangeAlongK(VolumeCamRequest request, Volume image, Cam.Models.ModelCard card)
    {
        var axis = card.Dimensionality == 2 ? Pipelines.Slicing.SliceAxes.IndexAxis(image.Geometry, request.Axis ?? Pipelines.Slicing.SliceAxes.Parse(card.SliceAxis)) : -1;
        if (!request.StreamsSlices(card.Dimensionality, axis))
        {
            return null;
        }

        var k = image.Geometry.Size.K;
        return request.Slices is { } s ? (s.First, s.Count == 0 ? k : Math.Min(k, s.First + s.Count)) : (0, k);
    }

    private static Proto.Timings Timings(TimeSpan queued, TimeSpan computed, TimeSpan total)
        => new() { QueueSeconds = queued.TotalSeconds, ComputeSeconds = computed.TotalSeconds, TotalSeconds = total.TotalSeconds };

    // Waits for a computation slot; while queued, the client hears its position (done 0 of "position").
    private Task<IDisposable> EnterQueue(Func<Proto.Progress, Task> write, CancellationToken token)
        => queue.EnterAsync(position => write(new Proto.Progress { Stage = "queued", Done = 0, Total = position }), token);
}
