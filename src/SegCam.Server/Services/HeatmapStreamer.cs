using Grpc.Core;
using SegCam.Cam.Methods;
using SegCam.Pipelines;
using SegCam.Protocol.Mapping;
using SegCam.Server.Hosting;
using SegCam.Server.Mapping;
using SegCam.Volumes;
using SegCam.Volumes.Metrics;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Server.Services;

/// <summary>
/// Sends the heatmaps of a run (layer by layer, method by method: index = layer × methods + method): either while it computes (headers at the first final slices, then the
/// slabs of each slice as it becomes final) or after it (header with value range and non-zero slice range, slabs);
/// then, per heatmap, its final range and metrics.
/// </summary>
internal sealed class HeatmapStreamer(
    IServerStreamWriter<Proto.ComputeCamResponse> stream,
    ServerMetrics metrics,
    IReadOnlyList<CamMethod> methods,
    Proto.OutputType output,
    int chunkBytes,
    Volume? truth,
    CancellationToken token)
{
    private int _sent = -1; // next k-slice to stream (-1: headers not sent yet)
    private int _rangeStart;
    private int _rangeEnd;

    /// <summary>Whether this run streams while it computes.</summary>
    public bool Streaming { get; private set; }

    /// <summary>Streams the slices that just became final (sends the headers first, the first time).</summary>
    public async Task OnFinalAsync(FinalSlices final, (int First, int End) range)
    {
        if (_sent < 0)
        {
            Streaming = true;
            (_rangeStart, _rangeEnd) = range;
            foreach (var (index, layer, method, volume) in Each(final.Layers))
            {
                var header = Header(index, method, layer, volume, Proto.VoxelType.Float32, 1, 0, 0, 0);
                header.Streaming = true;
                header.FirstSlice = _rangeStart;
                header.SliceCount = _rangeEnd - _rangeStart;
                await Write(new Proto.ComputeCamResponse { Heatmap = header }).ConfigureAwait(false);
            }

            _sent = _rangeStart;
        }

        var until = Math.Min(final.Count, _rangeEnd);
        if (until > _sent)
        {
            foreach (var (index, _, _, volume) in Each(final.Layers))
            {
                await SendSlabs(SlabStreaming.Raw(volume, index, chunkBytes, new Range(_sent, until))).ConfigureAwait(false);
            }

            _sent = until;
        }
    }

    /// <summary>Sends what is left of the run's heatmaps, their final ranges and metrics.</summary>
    public async Task FinishAsync(VolumeCamResult result)
    {
        foreach (var (index, layer, method, heatmap) in Each(result.ByLayer))
        {
            var (min, max, slices) = SlabStreaming.Scan(heatmap);
            if (Streaming)
            {
                await SendSlabs(SlabStreaming.Raw(heatmap, index, chunkBytes, new Range(_sent, _rangeEnd))).ConfigureAwait(false);
            }
            else
            {
                var (first, count) = slices.GetOffsetAndLength(heatmap.Geometry.Size.K);
                var quantise = output == Proto.OutputType.Uint8;
                var scale = quantise ? (max > min ? (max - min) / 255 : 0) : 1;
                var offset = quantise ? min : 0;
                var header = Header(index, method, layer, heatmap, quantise ? Proto.VoxelType.Uint8 : Proto.VoxelType.Float32, scale, offset, min, max);
                header.FirstSlice = first;
                header.SliceCount = count;
                await Write(new Proto.ComputeCamResponse { Heatmap = header }).ConfigureAwait(false);
                await SendSlabs(quantise ? SlabStreaming.Quantised(heatmap, index, chunkBytes, slices, scale, offset) : SlabStreaming.Raw(heatmap, index, chunkBytes, slices)).ConfigureAwait(false);
            }

            await Write(new Proto.ComputeCamResponse { Complete = new Proto.HeatmapComplete { Heatmap = index, Min = min, Max = max } }).ConfigureAwait(false);
            if (truth is not null)
            {
                await Write(new Proto.ComputeCamResponse
                {
                    Metrics = new Proto.HeatmapMetrics
                    {
                        Heatmap = index,
                        EnergyInside = HeatmapMetrics.EnergyFraction(heatmap, truth).Value ?? double.NaN,
                        MeanDice = HeatmapMetrics.MeanDice(heatmap, truth).Value ?? double.NaN,
                        Auprc = HeatmapMetrics.AveragePrecision(heatmap, truth).Value ?? double.NaN,
                    },
                }).ConfigureAwait(false);
            }
        }

        if (Streaming)
        {
            _sent = _rangeEnd;
        }
    }

    // Every heatmap with its response index: layer-major, then the request's method order.
    private IEnumerable<(int Index, string Layer, CamMethod Method, Volume Volume)> Each(IReadOnlyList<LayerHeatmaps> layers)
    {
        for (var l = 0; l < layers.Count; l++)
        {
            for (var m = 0; m < methods.Count; m++)
            {
                yield return ((l * methods.Count) + m, layers[l].Layer, methods[m], layers[l].Heatmaps[methods[m]]);
            }
        }
    }

    private static Proto.HeatmapHeader Header(int index, CamMethod method, string layer, Volume heatmap, Proto.VoxelType type, double scale, double offset, double min, double max) => new()
    {
        Index = index,
        Method = method.Id(),
        Layer = layer,
        Geometry = GeometryMapping.ToProto(heatmap.Geometry),
        VoxelType = type,
        Scale = scale,
        Offset = offset,
        Min = min,
        Max = max,
    };

    private async Task SendSlabs(IEnumerable<Proto.VoxelSlab> slabs)
    {
        foreach (var slab in slabs)
        {
            await Write(new Proto.ComputeCamResponse { Slab = slab }).ConfigureAwait(false);
            metrics.Streamed(slab.Data.Length);
        }
    }

    private Task Write(Proto.ComputeCamResponse message) => stream.WriteAsync(message, token);
}
