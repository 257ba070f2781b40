using SegCam.Cam.Methods;
using SegCam.Client;
using SegCam.Pipelines;
using SegCam.Volumes;
using SegCam.Volumes.Formats;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Cli.Commands;

/// <summary>
/// <c>segcam cam --server URL</c> on an image volume: uploads the image (and a label map), runs ComputeCam with the
/// same options as the in-process run, shows the server's progress, and writes the streamed heatmaps.
/// </summary>
internal static class RemoteCamRunner
{
    public static async Task<int> RunAsync(VolumeCamArguments a, SegCamClient client, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var image = VolumeFile.Read(a.Input, cancellationToken: cancellationToken);
        var upload = await client.UploadAsync(image, Path.GetFileName(a.Input), cancellationToken).ConfigureAwait(false);
        await stderr.WriteLineAsync($"segcam: uploaded {Path.GetFileName(a.Input)} as {upload.VolumeId} ({upload.BytesReceived} bytes{(upload.Deduplicated ? ", already on the server" : string.Empty)})").ConfigureAwait(false);
        var request = new Proto.ComputeCamRequest
        {
            Volume = new Proto.VolumeSource { VolumeId = upload.VolumeId },
            Model = a.Model,
            TargetClass = a.Class,
            PixelSet = await PixelSetOf(a, image, client, cancellationToken).ConfigureAwait(false),
            Options = new Proto.CamOptions
            {
                Relu = a.Relu,
                Normalization = a.Normalization switch
                {
                    CamNormalization.Max or CamNormalization.MaxAbs => Proto.Normalization.Max,
                    CamNormalization.MinMax => Proto.Normalization.Minmax,
                    _ => Proto.Normalization.None,
                },
                NormalizationScope = a.Scope == NormalizationScope.Slice ? Proto.NormalizationScope.Slice : Proto.NormalizationScope.Volume,
                Target = a.Target == CamTarget.Probabilities ? Proto.ScoreTarget.Probabilities : Proto.ScoreTarget.Logits,
                Precision = a.Precision == CamPrecision.Float64 ? Proto.Precision.Float64 : Proto.Precision.Float32,
                XresWindow = a.XResWindow,
                XresPool = a.XResPool == XResPool.Max ? Proto.XResPool.Max : Proto.XResPool.Mean,
                BatchSize = a.Batch,
            },
        };
        request.Methods.Add(a.Methods.Select(m => m.Id()));
        if (a.Layer is not null)
        {
            request.Layers.Add(a.Layer);
        }

        if (a.SliceAxis is not null)
        {
            request.Slices = new Proto.SliceSelection { Axis = a.SliceAxis };
        }

        var result = await client.ComputeCamAsync(request, new RemoteProgress(stderr), null, cancellationToken).ConfigureAwait(false);
        var written = new List<string>();
        foreach (var heatmap in result.Heatmaps)
        {
            var path = a.Methods.Count == 1 ? a.Output : VolumeCamRunner.WithMethod(a.Output, heatmap.Method);
            VolumeFile.Write(heatmap.Volume, path, cancellationToken);
            written.Add(path);
        }

        var t = result.Summary.Timings;
        await stdout.WriteLineAsync($"server {result.Summary.ExecutionProvider} | model {a.Model} | layer {string.Join(", ", result.Summary.Layers)} | {result.Summary.UnitsComputed} explained, {result.Summary.UnitsSkipped} skipped | queue {t.QueueSeconds:F2} s, compute {t.ComputeSeconds:F2} s, total {t.TotalSeconds:F2} s | request {result.RequestId}").ConfigureAwait(false);
        foreach (var path in written)
        {
            await stdout.WriteLineAsync($"wrote {path}").ConfigureAwait(false);
        }

        return 0;
    }

    private static async Task<Proto.PixelSet> PixelSetOf(VolumeCamArguments a, Volume image, SegCamClient client, CancellationToken cancellationToken)
    {
        switch (CliPixelSet.Parse(a))
        {
            case CliPixelSet.LabelMap m:
                var labels = VolumeFile.Read(m.Path, cancellationToken: cancellationToken);
                image.Geometry.RequireSameGrid(labels.Geometry, "the label map");
                var upload = await client.UploadAsync(labels, Path.GetFileName(m.Path), cancellationToken).ConfigureAwait(false);
                return new Proto.PixelSet { Label = new Proto.LabelPixels { LabelVolumeId = upload.VolumeId, Label = m.Label } };
            case CliPixelSet.PredictedRegion:
                return new Proto.PixelSet { Predicted = new Proto.PredictedPixels() };
            case CliPixelSet.Everything:
                return new Proto.PixelSet { All = new Proto.AllPixels() };
            case CliPixelSet.VoxelBox b:
                return new Proto.PixelSet { Box = new Proto.VoxelBox { Min = { b.Min.I, b.Min.J, b.Min.K }, Max = { b.Max.I, b.Max.J, b.Max.K } } };
            case CliPixelSet.Voxel v:
                return new Proto.PixelSet { Voxels = new Proto.VoxelList { Ijk = { v.Ijk.I, v.Ijk.J, v.Ijk.K } } };
            case var other:
                throw new InvalidOperationException($"unhandled pixel set {other}");
        }
    }
}

/// <summary>
/// The server's progress events on stderr: a progress bar redrawn in place on a terminal, one line per event when
/// stderr is a file or pipe (logs and tests).
/// </summary>
internal sealed class RemoteProgress(TextWriter writer) : IProgress<Proto.Progress>
{
    private readonly bool _bar = ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected;

    public void Report(Proto.Progress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var eta = value.HasRemainingSeconds ? $", about {value.RemainingSeconds:F0} s left" : string.Empty;
        if (value.Stage == "queued")
        {
            writer.WriteLine($"segcam: queued at position {value.Total}");
            return;
        }

        if (!_bar)
        {
            writer.WriteLine($"segcam: {value.Stage} {value.Done}/{value.Total}{eta}");
            return;
        }

        const int width = 30;
        var filled = value.Total > 0 ? (int)Math.Round(width * (double)value.Done / value.Total) : 0;
        writer.Write($"\rsegcam: {value.Stage,-8} [{new string('#', filled)}{new string('.', width - filled)}] {value.Done}/{value.Total}{eta}   ");
        if (value.Done >= value.Total)
        {
            writer.WriteLine();
        }
    }
}
