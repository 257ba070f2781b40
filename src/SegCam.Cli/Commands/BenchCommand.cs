using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using SegCam.Cam;
using SegCam.Cam.Execution;
using SegCam.Cam.Layers;
using SegCam.Cam.Methods;
using SegCam.Cam.PixelSets;
using SegCam.Onnx.Model;

namespace SegCam.Cli.Commands;

/// <summary>
/// <c>segcam bench</c>: ratios in one process on one machine — all gradient CAMs of one request, and one CAM,
/// over plain inference of the same batch; medians of several timed runs after warm-up.
/// </summary>
internal static class BenchCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = CommonOptions.Model();
        var shape = new Option<string>("--input-shape") { Description = "Input shape, e.g. 8,1,256,256", Required = true };
        var layers = new Option<string>("--layers") { Description = "Semicolon-separated layers (names or roles)", DefaultValueFactory = _ => "bottleneck;encoder level 1" };
        var runs = new Option<int>("--runs") { Description = "Timed runs per measurement (median reported)", DefaultValueFactory = _ => 7 };
        var precision = new Option<string>("--precision") { Description = "float32 (default) or float64 arithmetic of the CAM graph", DefaultValueFactory = _ => "float32" }.AcceptOnlyFromAmong("float32", "float64");
        var device = CommonOptions.Device();
        var command = new Command("bench", "Benchmark CAM time against plain inference (ratios, medians)") { model, shape, layers, runs, precision, device };
        command.SetAction(async (parse, ct) =>
        {
            var m = SegmentationModel.Load(parse.GetValue(model)!.FullName);
            var inputShape = CommonOptions.ParseInts(parse.GetValue(shape)!, "--input-shape");
            var count = Math.Max(1, parse.GetValue(runs));
            var arithmetic = parse.GetValue(precision) == "float64" ? CamPrecision.Float64 : CamPrecision.Float32;
            using var engine = new CamEngine(CommonOptions.ParseDevice(parse.GetValue(device)!), msg => stderr.WriteLine($"segcam: {msg}"));
            var random = new Random(7);
            var input = Enumerable.Range(0, (int)inputShape.Aggregate(1L, (a, d) => a * d)).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();

            using var plainSession = new InferenceSession(OnnxModelFile.ToBytes(m.Proto), engine.Sessions.Create());
            var plain = Median(count, () => PlainInference(plainSession, m, input, inputShape));
            await stdout.WriteLineAsync($"model {m.Name} input [{string.Join(", ", inputShape)}] provider {engine.Sessions.ProviderName} precision {arithmetic} runs {count} (median)").ConfigureAwait(false);
            await stdout.WriteLineAsync($"plain inference: {plain:F1} ms").ConfigureAwait(false);
            var gradientMethods = CamMethodNames.All.Select(CamMethodNames.Parse).Where(x => x.NeedsGradient()).ToArray();
            foreach (var layer in parse.GetValue(layers)!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var name = LayerCatalog.Resolve(m, inputShape, layer);
                (double Total, double Run) Time(IReadOnlyList<CamMethod> methods)
                {
                    var request = new CamRequest
                    {
                        Input = input, InputShape = inputShape, Class = 1, Layer = name, PixelSet = PixelSet.All(),
                        Options = new CamOptions { Methods = methods, Resolution = CamResolution.Input, Normalization = CamNormalization.MinMax, Precision = arithmetic },
                    };
                    engine.Compute(m, request, ct).Dispose();
                    var runs = new List<double>();
                    var total = Median(count, () =>
                    {
                        // Disposing hands the output arrays back, as the volume pipelines do between batches.
                        using var result = engine.Compute(m, request, ct);
                        runs.Add(result.RunTime.TotalMilliseconds);
                    });
                    runs.RemoveAt(0); // the warm-up run
                    runs.Sort();
                    return (total, runs[runs.Count / 2]);
                }

                var (all, allRun) = Time(gradientMethods);
                var (one, oneRun) = Time([CamMethod.SegHiResGradCam]);
                await stdout.WriteLineAsync(
                    $"layer {layer} ({name}): all {gradientMethods.Length} gradient CAMs {all:F1} ms = {all / plain:F2} x inference; one CAM {one:F1} ms = {one / plain:F2} x; all/one = {all / one:F2} (ONNX Runtime's Run: all {allRun:F1} ms, one {oneRun:F1} ms)").ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }

    private static void PlainInference(InferenceSession session, SegmentationModel model, float[] input, long[] shape)
    {
        using var x = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var options = new RunOptions();
        using var outputs = session.Run(options, [model.Input], [x], [model.Output]);
        _ = outputs[0].GetTensorDataAsSpan<float>()[0];
    }

    private static double Median(int runs, Action action)
    {
        action();
        var times = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            times.Add(clock.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        return times[times.Count / 2];
    }
}
