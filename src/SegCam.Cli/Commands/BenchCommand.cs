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
/// over plain inference of the same batch; medians of several timed rounds after warm-up, each round timing the three
/// back to back.
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
            await stdout.WriteLineAsync($"model {m.Name} input [{string.Join(", ", inputShape)}] provider {engine.Sessions.ProviderName} precision {arithmetic} runs {count} (medians; each round times plain inference, all CAMs and one CAM back to back)").ConfigureAwait(false);
            var gradientMethods = CamMethodNames.All.Select(CamMethodNames.Parse).Where(x => x.NeedsGradient()).ToArray();
            foreach (var layer in parse.GetValue(layers)!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var name = LayerCatalog.Resolve(m, inputShape, layer);
                CamRequest Request(IReadOnlyList<CamMethod> methods) => new()
                {
                    Input = input, InputShape = inputShape, Class = 1, Layer = name, PixelSet = PixelSet.All(),
                    Options = new CamOptions { Methods = methods, Resolution = CamResolution.Input, Normalization = CamNormalization.MinMax, Precision = arithmetic },
                };

                var (allRequest, oneRequest) = (Request(gradientMethods), Request([CamMethod.SegHiResGradCam]));
                double Cam(CamRequest request, List<double> runTimes)
                {
                    var clock = Stopwatch.StartNew();
                    // Disposing hands the output arrays back, as the volume pipelines do between batches.
                    using (var result = engine.Compute(m, request, ct))
                    {
                        runTimes.Add(result.RunTime.TotalMilliseconds);
                    }

                    return clock.Elapsed.TotalMilliseconds;
                }

                // Warm-up: sessions built, output shapes learnt, recycled arrays in place.
                var ignored = new List<double>();
                PlainInference(plainSession, m, input, inputShape);
                Cam(allRequest, ignored);
                Cam(oneRequest, ignored);
                Cam(allRequest, ignored);
                Cam(oneRequest, ignored);

                // Rounds alternate the three measurements, so a slow spell of this shared machine hits all of them alike.
                var (plain, all, one, allRuns, oneRuns) = (new List<double>(), new List<double>(), new List<double>(), new List<double>(), new List<double>());
                for (var round = 0; round < count; round++)
                {
                    var clock = Stopwatch.StartNew();
                    PlainInference(plainSession, m, input, inputShape);
                    plain.Add(clock.Elapsed.TotalMilliseconds);
                    all.Add(Cam(allRequest, allRuns));
                    one.Add(Cam(oneRequest, oneRuns));
                }

                double Ratio(List<double> a, List<double> b) => Median(a.Zip(b, (x, y) => x / y));
                await stdout.WriteLineAsync(
                    $"layer {layer} ({name}): plain inference {Median(plain):F1} ms; all {gradientMethods.Length} gradient CAMs {Median(all):F1} ms = {Ratio(all, plain):F2} x inference; "
                    + $"one CAM {Median(one):F1} ms = {Ratio(one, plain):F2} x; all/one = {Ratio(all, one):F2} (ratios: medians of the per-round ratios; ONNX Runtime's Run: all {Median(allRuns):F1} ms, one {Median(oneRuns):F1} ms)").ConfigureAwait(false);
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

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
