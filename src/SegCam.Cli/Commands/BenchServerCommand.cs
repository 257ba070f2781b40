using System.CommandLine;
using System.Diagnostics;
using Grpc.Core;
using SegCam.Cam.Execution;
using SegCam.Cam.Methods;
using SegCam.Client;
using SegCam.Pipelines;
using SegCam.Server.Hosting;
using SegCam.Volumes;
using SegCam.Volumes.Geometry;
using SegCam.Volumes.Phantoms;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Cli.Commands;

/// <summary>
/// <c>segcam bench-server</c>: what the gRPC layer costs. Starts a server on a loopback port in this process and
/// measures (1) interactive latency, from a single-slice ComputeCam request to its first heatmap slab, against the
/// in-process pipeline's time for the same slice (median of runs, both warm), and (2) upload and download
/// throughput of a large float32 volume on loopback.
/// </summary>
internal static class BenchServerCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string>("--model") { Description = "2-D model id of the default model directory", DefaultValueFactory = _ => "demo-unet2d" };
        var slice = new Option<string>("--slice-size") { Description = "In-plane size i,j of the latency volume", DefaultValueFactory = _ => "512,512" };
        var runs = new Option<int>("--runs") { Description = "Timed runs per measurement (median reported)", DefaultValueFactory = _ => 9 };
        var throughputMiB = new Option<int>("--throughput-mib") { Description = "Size of the throughput volume in MiB (float32, 256×256 slices)", DefaultValueFactory = _ => 256 };
        var device = CommonOptions.Device();
        var command = new Command("bench-server", "Benchmark the gRPC server on loopback: single-slice latency vs in-process, upload/download MB/s") { model, slice, runs, throughputMiB, device };
        command.SetAction(async (parse, ct) =>
        {
            var (m, card) = ModelLocator.Load(parse.GetValue(model)!);
            var size = CommonOptions.ParseInts(parse.GetValue(slice)!, "--slice-size", 2);
            var n = Math.Max(1, parse.GetValue(runs));
            var directory = Path.GetDirectoryName(ModelLocator.Path(parse.GetValue(model)!))!;
            var deviceKind = CommonOptions.ParseDevice(parse.GetValue(device)!);
            await using var server = SegCamServer.Create(new SegCamServerOptions { ModelDirectory = directory, Listen = "127.0.0.1:0", Device = deviceKind, MaxStoredBytes = 4L << 30 });
            await server.StartAsync(ct).ConfigureAwait(false);
            using var client = new SegCamClient(server.Addresses[0]);

            // (1) Latency of one slice: a phantom with 16 slices, the tumour class over slice 8 (all pixels).
            var (image, _) = AbdominalPhantom.Generate(new PhantomOptions { Size = new GridSize((int)size[0], (int)size[1], 16), Spacing = new Vector3(320.0 / size[0], 320.0 / size[1], 3), TumourProbability = 1 }, 11, ct);
            var request = new VolumeCamRequest { Class = card.ClassIndex("tumour"), PixelSet = VolumePixelSet.All(), Methods = [CamMethod.SegHiResGradCam], Slices = new SliceRange(8, 1) };
            using var engine = new CamEngine(deviceKind);
            var pipeline = VolumePipelines.For(engine, m, card);
            var id = (await client.UploadAsync(image, cancellationToken: ct).ConfigureAwait(false)).VolumeId;
            var remoteRequest = new Proto.ComputeCamRequest
            {
                Volume = new Proto.VolumeSource { VolumeId = id },
                Model = card.Id,
                TargetClass = "tumour",
                PixelSet = new Proto.PixelSet { All = new Proto.AllPixels() },
                Slices = new Proto.SliceSelection { First = 8, Count = 1 },
            };
            remoteRequest.Methods.Add("seg-hires-grad-cam");

            // Warm both, then alternate in-process and remote runs, so the machine's drift hits both alike.
            pipeline.Run(image, request, cancellationToken: ct);
            await FirstSlab(client, remoteRequest, ct).ConfigureAwait(false);
            // In-process: until the slice's heatmap is final (FinalSlices, what the server streams from), and the whole Run.
            var locals = new List<double>();
            var whole = new List<double>();
            var remote = new List<double>();
            for (var r = 0; r < n; r++)
            {
                var clock = Stopwatch.StartNew();
                double? final = null;
                pipeline.Run(image, request with { FinalSlices = new FirstReport(() => final ??= clock.Elapsed.TotalMilliseconds) }, cancellationToken: ct);
                whole.Add(clock.Elapsed.TotalMilliseconds);
                locals.Add(final ?? clock.Elapsed.TotalMilliseconds);
                remote.Add(await FirstSlab(client, remoteRequest, ct).ConfigureAwait(false));
            }

            var local = Median(locals);
            var remoteMedian = Median(remote);
            await stdout.WriteLineAsync($"latency {size[0]}×{size[1]} single slice ({card.Id}, seg-hires-grad-cam, {engine.Sessions.ProviderName}): in-process slice final {local:F1} ms (whole Run {Median(whole):F1} ms), gRPC request → first heatmap slab {remoteMedian:F1} ms, ratio {remoteMedian / local:F3} (medians of {n}, alternating)").ConfigureAwait(false);

            // (2) Throughput: a float32 volume of 256×256 slices; the download is a heatmap whose non-zero slices span the volume.
            var slices = Math.Max(2, parse.GetValue(throughputMiB) * 4);
            var big = new Volume(new VolumeGeometry(new GridSize(256, 256, slices), new Vector3(1, 1, 1), default, Direction3.Identity), VoxelType.Float32);
            var random = new Random(5);
            for (var k = 0; k < slices; k++)
            {
                var s = big.Slice<float>(k);
                for (var v = 0; v < s.Length; v++)
                {
                    s[v] = (float)(random.NextDouble() * 400) - 100;
                }
            }

            var mib = big.SliceBytes * (double)slices / (1 << 20);
            var uploads = new List<double>();
            var downloads = new List<double>();
            string? bigId = null;
            for (var r = 0; r < Math.Min(n, 3); r++)
            {
                var clock = Stopwatch.StartNew();
                var upload = await client.UploadAsync(big, cancellationToken: ct).ConfigureAwait(false);
                uploads.Add(mib / clock.Elapsed.TotalSeconds);
                bigId = upload.VolumeId;
                await client.DeleteAsync(upload.VolumeId, ct).ConfigureAwait(false);
            }

            bigId = (await client.UploadAsync(big, cancellationToken: ct).ConfigureAwait(false)).VolumeId;
            var download = new Proto.ComputeCamRequest
            {
                Volume = new Proto.VolumeSource { VolumeId = bigId },
                Model = card.Id,
                TargetClass = "kidney",
                PixelSet = new Proto.PixelSet { Voxels = new Proto.VoxelList { Ijk = { 128, 128, 0, 128, 128, slices - 1 } } },
                Options = new Proto.CamOptions { Relu = false }, // signed maps: non-zero at both ends, so every slice streams
            };
            for (var r = 0; r < Math.Min(n, 3); r++)
            {
                var (seconds, bytes) = await SlabSeconds(client, download, ct).ConfigureAwait(false);
                if (bytes < big.SliceBytes * (long)slices)
                {
                    throw new InvalidOperationException($"the download streamed {bytes} bytes, not the whole {mib:F0} MiB heatmap");
                }

                downloads.Add(bytes / (double)(1 << 20) / seconds);
            }

            await stdout.WriteLineAsync($"throughput {mib:F0} MiB float32 on loopback: upload {Median(uploads):F0} MiB/s, download (heatmap slabs) {Median(downloads):F0} MiB/s (median of {uploads.Count})").ConfigureAwait(false);
            await stderr.WriteLineAsync($"segcam: peak working set {Process.GetCurrentProcess().PeakWorkingSet64 >> 20} MiB").ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[(values.Count / 2) - 1] + values[values.Count / 2]) / 2;
    }

    // Milliseconds from sending the request to receiving the first heatmap slab (the rest is drained).
    private static async Task<double> FirstSlab(SegCamClient client, Proto.ComputeCamRequest request, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        double? first = null;
        using var call = client.Raw.ComputeCam(request, cancellationToken: ct);
        await foreach (var message in call.ResponseStream.ReadAllAsync(ct).ConfigureAwait(false))
        {
            if (message.EventCase == Proto.ComputeCamResponse.EventOneofCase.Slab)
            {
                first ??= clock.Elapsed.TotalMilliseconds;
            }
        }

        return first ?? throw new InvalidOperationException("the server sent no heatmap slab");
    }

    // Seconds from the first to the last heatmap slab, and the slab bytes.
    private static async Task<(double Seconds, long Bytes)> SlabSeconds(SegCamClient client, Proto.ComputeCamRequest request, CancellationToken ct)
    {
        Stopwatch? clock = null;
        long bytes = 0;
        using var call = client.Raw.ComputeCam(request, cancellationToken: ct);
        await foreach (var message in call.ResponseStream.ReadAllAsync(ct).ConfigureAwait(false))
        {
            if (message.EventCase == Proto.ComputeCamResponse.EventOneofCase.Slab)
            {
                clock ??= Stopwatch.StartNew();
                bytes += message.Slab.Data.Length;
            }
        }

        return (clock?.Elapsed.TotalSeconds ?? throw new InvalidOperationException("the server sent no heatmap slab"), bytes);
    }

    private sealed class FirstReport(Action report) : IProgress<FinalSlices>
    {
        public void Report(FinalSlices value) => report();
    }
}
