using System.CommandLine;
using System.Diagnostics;
using SegCam.Cam.Execution;
using SegCam.Cam.Methods;
using SegCam.Pipelines;
using SegCam.Volumes.Geometry;
using SegCam.Volumes.Phantoms;

namespace SegCam.Cli.Commands;

/// <summary>
/// <c>segcam bench-volume</c>: slices per second and peak memory of the slice-wise pipeline on a phantom, with or
/// without empty-slice skipping. Peak memory is the process's peak working set, so run one configuration per process.
/// </summary>
internal static class BenchVolumeCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string>("--model") { Description = "Model (path or id) with a card: 2-D (slice-wise pipeline) or 3-D (sliding window)", DefaultValueFactory = _ => "demo-unet2d" };
        var size = new Option<string>("--size") { Description = "Phantom voxels i,j,k", DefaultValueFactory = _ => "256,256,128" };
        var skip = new Option<bool>("--skip-empty") { Description = "Skip slices whose pixel set is empty", DefaultValueFactory = _ => true };
        var runs = new Option<int>("--runs") { Description = "Timed runs (median reported)", DefaultValueFactory = _ => 3 };
        var batch = new Option<int>("--batch") { Description = "Slices per run", DefaultValueFactory = _ => 8 };
        var device = CommonOptions.Device();
        var command = new Command("bench-volume", "Benchmark a volume pipeline (slice-wise for 2-D models, sliding window for 3-D): throughput and peak memory") { model, size, skip, runs, batch, device };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (m, card) = ModelLocator.Load(parse.GetValue(model)!);
            var s = CommonOptions.ParseInts(parse.GetValue(size)!, "--size", 3);
            var options = new PhantomOptions { Size = new GridSize((int)s[0], (int)s[1], (int)s[2]), Spacing = new Vector3(320.0 / s[0], 320.0 / s[1], 144.0 / s[2]), TumourProbability = 1 };
            var (ct, truth) = AbdominalPhantom.Generate(options, 11, cancellationToken);
            using var engine = new CamEngine(CommonOptions.ParseDevice(parse.GetValue(device)!), msg => stderr.WriteLine($"segcam: {msg}"));
            var pipeline = VolumePipelines.For(engine, m, card);
            var request = new VolumeCamRequest
            {
                Class = card.ClassIndex("tumour"),
                PixelSet = VolumePixelSet.Label(truth, AbdominalPhantom.Tumour),
                Methods = [CamMethod.SegHiResGradCam],
                BatchSize = parse.GetValue(batch),
                SkipEmptySlices = parse.GetValue(skip),
            };
            var warm = pipeline.Run(ct, request, cancellationToken: cancellationToken);
            var times = new List<double>();
            for (var r = 0; r < Math.Max(1, parse.GetValue(runs)); r++)
            {
                var clock = Stopwatch.StartNew();
                pipeline.Run(ct, request, cancellationToken: cancellationToken);
                times.Add(clock.Elapsed.TotalSeconds);
            }

            times.Sort();
            var median = times[times.Count / 2];
            var volumeMiB = (ct.SliceBytes + (4.0 * ct.Geometry.Size.SliceVoxels)) * ct.Geometry.Size.K / (1 << 20);
            var peak = Process.GetCurrentProcess().PeakWorkingSet64 / (double)(1 << 20);
            // A 3-D model's units are patches of the sliding window, not slices.
            var work = card.Dimensionality == 3
                ? $"explained {warm.SlicesComputed} patches ({warm.SlicesSkipped} skipped) | median {median:F2} s = {ct.Geometry.Size.Voxels / median / 1e6:F2} Mvoxel/s"
                : $"explained {warm.SlicesComputed} of {ct.Geometry.Size.K} slices | median {median:F2} s = {ct.Geometry.Size.K / median:F1} slices/s ({warm.SlicesComputed / median:F1} explained/s)";
            await stdout.WriteLineAsync(
                $"{card.Id} | {ct.Geometry.Size} | skip empty {parse.GetValue(skip)} | {work} | peak working set {peak:F0} MiB (input + heatmap volumes {volumeMiB:F0} MiB) | provider {engine.Sessions.ProviderName}").ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
