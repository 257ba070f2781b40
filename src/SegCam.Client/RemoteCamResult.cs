using SegCam.Volumes;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Client;

/// <summary>One heatmap as downloaded: its method, layer, voxels (float32, dequantised) and value range.</summary>
public sealed record RemoteHeatmap(string Method, string Layer, Volume Volume, double Min, double Max);

/// <summary>The downloaded heatmaps of a ComputeCam call, their metrics (when a ground truth was sent) and the summary.</summary>
public sealed record RemoteCamResult(IReadOnlyList<RemoteHeatmap> Heatmaps, IReadOnlyDictionary<int, Proto.HeatmapMetrics> Metrics, Proto.ComputeCamSummary Summary, string? RequestId);
