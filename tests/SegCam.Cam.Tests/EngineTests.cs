using Microsoft.ML.OnnxRuntime;
using SegCam.Cam.Execution;
using SegCam.Cam.Layers;
using SegCam.Cam.Methods;
using SegCam.Cam.PixelSets;
using SegCam.Common.Errors;
using SegCam.Common.Tensors;

namespace SegCam.Cam.Tests;

/// <summary>Engine behaviour on the committed PyTorch-exported 2-D U-Net (BatchNorm kept, opset 13).</summary>
public sealed class EngineTests
{
    internal static readonly string Fixtures = FindFixtures();
    private static readonly SegmentationModel UNet = SegmentationModel.Load(Path.Combine(Fixtures, "models", "unet2d_bn.onnx"));
    private static readonly NdArray Input = NpyFile.Read(Path.Combine(Fixtures, "cases", "unet2d_bn-bottleneck-mask", "input.npy"));

    private static readonly CamOptions AllMethods = new()
    {
        Methods = CamMethodNames.All.Select(CamMethodNames.Parse).ToArray(),
        Resolution = CamResolution.Input,
        Normalization = CamNormalization.None,
        ExportTensors = true,
    };

    private static CamRequest Request(PixelSet set, CamOptions? options = null, int cls = 1) => new()
    {
        Input = Input.ToFloat32(),
        InputShape = Input.Shape.Select(d => (long)d).ToArray(),
        Class = cls,
        PixelSet = set,
        Layer = "bottleneck",
        Options = options ?? AllMethods,
    };

    [Fact]
    public void Optimised_and_unoptimised_augmented_graphs_agree()
    {
        using var optimised = new CamEngine();
        using var plain = new CamEngine { OptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        var box = PixelSet.Box([10, 8], [30, 25]);
        var a = optimised.Compute(UNet, Request(box), TestContext.Current.CancellationToken);
        var b = plain.Compute(UNet, Request(box), TestContext.Current.CancellationToken);
        foreach (var (method, map) in a.Maps)
        {
            AssertClose(b.Maps[method], map, 1e-4, method.Id());
        }

        AssertClose(b.Gradient!, a.Gradient!, 1e-4, "gradient");
        AssertClose(b.Logits, a.Logits, 1e-5, "logits");
    }

    [Fact]
    public void Optimised_and_unoptimised_graphs_agree_at_the_first_encoder_level_in_float32()
    {
        // Encoder level 1: the reverse sweep passes every ReLU mask, Concat gradient and pooling of the U-Net, which the
        // CPU layout rewrite (NchwcLayoutRewrite) changes in the optimised engine only.
        using var optimised = new CamEngine();
        using var plain = new CamEngine { OptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        var options = new CamOptions { Methods = [CamMethod.SegHiResGradCam, CamMethod.SegGradCam], ExportTensors = true, Precision = CamPrecision.Float32 };
        var request = Request(PixelSet.Box([4, 6], [40, 30]), options) with { Layer = "encoder level 1" };
        var a = optimised.Compute(UNet, request, TestContext.Current.CancellationToken);
        var b = plain.Compute(UNet, request, TestContext.Current.CancellationToken);
        AssertClose(b.Gradient!, a.Gradient!, 1e-4, "gradient");
        foreach (var (method, map) in a.Maps)
        {
            AssertClose(b.Maps[method], map, 1e-4, method.Id());
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_predicted_region_is_computed_only_when_asked_and_matches_the_logits(bool predicted)
    {
        // The optimised CPU float32 engine computes the predicted region inside an If on use_predicted; the unoptimised
        // one with a Where. Both give the same seed, and the region is argmax over the returned logits = class.
        using var optimised = new CamEngine();
        using var plain = new CamEngine { OptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        var options = new CamOptions { Methods = [CamMethod.SegHiResGradCam], Precision = CamPrecision.Float32, Normalization = CamNormalization.None };
        var set = predicted ? PixelSet.Predicted() : PixelSet.Box([4, 6], [40, 30]);
        var ct = TestContext.Current.CancellationToken;
        using var a = optimised.Compute(UNet, Request(set, options), ct);
        using var b = plain.Compute(UNet, Request(set, options), ct);

        var (classes, positions) = (a.Logits.Length / (48 * 40), 48 * 40);
        var expected = predicted
            ? Enumerable.Range(0, positions).Count(p => Enumerable.Range(0, classes).MaxBy(c => (a.Logits[(c * positions) + p], -c)) == 1)
            : 36 * 24;
        Assert.Equal(expected, a.PixelCounts[0]);
        Assert.Equal(a.PixelCounts, b.PixelCounts);
        AssertClose(b.Maps[CamMethod.SegHiResGradCam], a.Maps[CamMethod.SegHiResGradCam], 1e-4, "map");
        Assert.Contains(a.Maps[CamMethod.SegHiResGradCam], v => v != 0);
        long[] shape = [.. Input.Shape.Select(d => (long)d)];
        var graph = Graphs.AugmentedModelBuilder.Build(UNet, [LayerCatalog.Resolve(UNet, shape, "bottleneck")], shape, options, cpuLayout: true).Model.Graph;
        Assert.Contains(graph.Node, n => n.OpType == "If");
        Assert.DoesNotContain(graph.Node, n => n.OpType == "ArgMax"); // only inside the If's predicted branch
    }

    [Fact]
    public void A_full_session_cache_drops_the_oldest_session_and_rebuilds_it_with_the_same_results()
    {
        using var engine = new CamEngine(maxCachedSessions: 2);
        var ct = TestContext.Current.CancellationToken;
        var options = new CamOptions { Methods = [CamMethod.SegHiResGradCam], Normalization = CamNormalization.None };
        var box = PixelSet.Box([10, 8], [30, 25]);
        float[] Map(string layer)
        {
            using var result = engine.Compute(UNet, Request(box, options) with { Layer = layer }, ct);
            return result.Maps[CamMethod.SegHiResGradCam].ToArray();
        }

        var first = Map("bottleneck");
        Map("encoder level 1");
        Map("decoder level 1");
        Assert.Equal(2, engine.CachedSessions);
        Assert.Equal(2, engine.MaxCachedSessions);
        Assert.Equal(first, Map("bottleneck")); // rebuilt after eviction: same graph, same numbers
        Assert.Equal(2, engine.CachedSessions);
    }

    [Fact]
    public void A_disposed_result_hands_its_arrays_to_the_next_request_and_the_values_stay_right()
    {
        using var engine = new CamEngine();
        var box = PixelSet.Box([10, 8], [30, 25]);
        var ct = TestContext.Current.CancellationToken;
        engine.Compute(UNet, Request(box), ct).Dispose(); // the first run learns the output shapes
        var kept = engine.Compute(UNet, Request(box), ct);
        var keptCopy = kept.Maps[CamMethod.SegHiResGradCam].ToArray();
        var returned = engine.Compute(UNet, Request(box), ct);
        var returnedMap = returned.Maps[CamMethod.SegHiResGradCam];
        returned.Dispose();
        returned.Dispose(); // twice is harmless

        var next = engine.Compute(UNet, Request(PixelSet.Voxel([12, 9]), cls: 2), ct);
        Assert.Same(returnedMap, next.Maps[CamMethod.SegHiResGradCam]);
        Assert.NotSame(kept.Maps[CamMethod.SegHiResGradCam], next.Maps[CamMethod.SegHiResGradCam]);

        using var fresh = new CamEngine();
        var expected = fresh.Compute(UNet, Request(PixelSet.Voxel([12, 9]), cls: 2), ct);
        foreach (var (method, map) in expected.Maps)
        {
            AssertClose(map, next.Maps[method], 1e-6, method.Id()); // another session: equal up to reduction order
        }

        AssertClose(expected.Gradient!, next.Gradient!, 1e-6, "gradient");
        AssertClose(expected.Logits, next.Logits, 1e-6, "logits");
        var again = engine.Compute(UNet, Request(box), ct);
        Assert.Equal(keptCopy, kept.Maps[CamMethod.SegHiResGradCam]); // the result that was kept was not overwritten
        AssertClose(kept.Maps[CamMethod.SegHiResGradCam], again.Maps[CamMethod.SegHiResGradCam], 1e-6, "same request");
    }

    [Theory]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NaN)]
    public void A_non_finite_map_is_refused_with_its_reason(float poison)
    {
        using var engine = new CamEngine();
        var input = Input.ToFloat32();
        input[input.Length / 2] = poison;
        var request = Request(PixelSet.All(), new CamOptions { Methods = [CamMethod.SegHiResGradCam, CamMethod.SegLayerCam] }) with { Input = input };
        var error = Assert.Throws<InvalidRequestException>(() => engine.Compute(UNet, request, TestContext.Current.CancellationToken));
        Assert.Contains("non-finite", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Augmented_forward_matches_the_original_model()
    {
        using var engine = new CamEngine();
        var result = engine.Compute(UNet, Request(PixelSet.All()), TestContext.Current.CancellationToken);
        using var options = new SessionOptions();
        using var session = new InferenceSession(Onnx.Model.OnnxModelFile.ToBytes(UNet.Proto), options);
        using var x = OrtValue.CreateTensorValueFromMemory(Input.ToFloat32(), Input.Shape.Select(d => (long)d).ToArray());
        using var run = new RunOptions();
        using var outputs = session.Run(run, [UNet.Input], [x], [UNet.Output]);
        AssertClose(outputs[0].GetTensorDataAsSpan<float>().ToArray(), result.Logits, 1e-5, "logits");
    }

    [Fact]
    public void Empty_pixel_set_gives_zero_gradient_maps_and_a_flag_never_nan()
    {
        using var engine = new CamEngine();
        var empty = PixelSet.FromMask(new bool[48 * 40], [48, 40]);
        var result = engine.Compute(UNet, Request(empty), TestContext.Current.CancellationToken);
        Assert.True(result.Flags[0].HasFlag(CamFlags.EmptyPixelSet));
        Assert.Equal(0, result.PixelCounts[0]);
        foreach (var (method, map) in result.Maps.Where(m => m.Key.NeedsGradient()))
        {
            Assert.True(map.All(v => v == 0f), $"{method.Id()} is not all zero");
        }

        Assert.Contains(result.Maps[CamMethod.SegEigenCam], v => v != 0f);
        Assert.All(result.Gradient!, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Box_and_single_voxel_agree_with_the_equivalent_mask()
    {
        using var engine = new CamEngine();
        var box = new bool[48 * 40];
        for (var y = 5; y < 20; y++)
        {
            for (var x = 7; x < 31; x++)
            {
                box[(y * 40) + x] = true;
            }
        }

        var viaBox = engine.Compute(UNet, Request(PixelSet.Box([5, 7], [20, 31])), TestContext.Current.CancellationToken);
        var viaMask = engine.Compute(UNet, Request(PixelSet.FromMask(box, [48, 40])), TestContext.Current.CancellationToken);
        Assert.Equal(viaMask.Gradient, viaBox.Gradient);

        var voxel = new bool[48 * 40];
        voxel[(12 * 40) + 9] = true;
        var viaVoxel = engine.Compute(UNet, Request(PixelSet.Voxel([12, 9])), TestContext.Current.CancellationToken);
        var viaVoxelMask = engine.Compute(UNet, Request(PixelSet.FromMask(voxel, [48, 40])), TestContext.Current.CancellationToken);
        Assert.Equal(viaVoxelMask.Gradient, viaVoxel.Gradient);
        Assert.Equal(1, viaVoxel.PixelCounts[0]);
    }

    [Fact]
    public void A_pixel_set_never_inherits_the_previous_requests_mask()
    {
        // The engine rasterises every request into a reused buffer: a box after "all" must see only the box.
        using var fresh = new CamEngine();
        var expected = fresh.Compute(UNet, Request(PixelSet.Box([5, 7], [20, 31])), TestContext.Current.CancellationToken);
        using var engine = new CamEngine();
        engine.Compute(UNet, Request(PixelSet.All()), TestContext.Current.CancellationToken).Dispose();
        var box = engine.Compute(UNet, Request(PixelSet.Box([5, 7], [20, 31])), TestContext.Current.CancellationToken);
        Assert.Equal(15 * 24, box.PixelCounts[0]);
        Assert.Equal(expected.Gradient, box.Gradient);
    }

    [Fact]
    public void Changing_class_or_pixel_set_reuses_the_compiled_session()
    {
        using var engine = new CamEngine();
        engine.Compute(UNet, Request(PixelSet.All(), cls: 0), TestContext.Current.CancellationToken);
        engine.Compute(UNet, Request(PixelSet.Predicted(), cls: 2), TestContext.Current.CancellationToken);
        engine.Compute(UNet, Request(PixelSet.Box([0, 0], [3, 3]), cls: 1), TestContext.Current.CancellationToken);
        Assert.Equal(1, engine.CachedSessions);
    }

    [Fact]
    public void Gradient_is_linear_in_the_pixel_set()
    {
        using var engine = new CamEngine();
        var left = PixelSet.Box([0, 0], [48, 20]);
        var right = PixelSet.Box([0, 20], [48, 40]);
        var all = engine.Compute(UNet, Request(PixelSet.All()), TestContext.Current.CancellationToken).Gradient!;
        var l = engine.Compute(UNet, Request(left), TestContext.Current.CancellationToken).Gradient!;
        var r = engine.Compute(UNet, Request(right), TestContext.Current.CancellationToken).Gradient!;
        AssertClose(all, l.Zip(r, (p, q) => p + q).ToArray(), 1e-5, "G(all) = G(left) + G(right)");
    }

    [Fact]
    public void Xres_with_window_one_equals_hires()
    {
        using var engine = new CamEngine();
        var options = new CamOptions { Methods = [CamMethod.SegXResCam, CamMethod.SegHiResGradCam], XResWindow = 1 };
        var result = engine.Compute(UNet, Request(PixelSet.All(), options), TestContext.Current.CancellationToken);
        Assert.Equal(result.Maps[CamMethod.SegHiResGradCam], result.Maps[CamMethod.SegXResCam]);
    }

    [Fact]
    public void Bad_requests_name_what_is_wrong_and_what_is_allowed()
    {
        using var engine = new CamEngine();
        var ct = TestContext.Current.CancellationToken;
        var badClass = Assert.Throws<InvalidRequestException>(() => engine.Compute(UNet, Request(PixelSet.All(), cls: 7), ct));
        Assert.Contains("0..2", badClass.Message, StringComparison.Ordinal);
        var badMask = Assert.Throws<InvalidRequestException>(() => engine.Compute(UNet, Request(PixelSet.FromMask(new bool[10], [2, 5])), ct));
        Assert.Contains("[48, 40]", badMask.Message, StringComparison.Ordinal);
        var badBox = Assert.Throws<InvalidRequestException>(() => engine.Compute(UNet, Request(PixelSet.Box([0, 0], [49, 3])), ct));
        Assert.Contains("outside", badBox.Message, StringComparison.Ordinal);
        var badLayer = Assert.Throws<TargetNotFoundException>(() => engine.Compute(UNet, Request(PixelSet.All()) with { Layer = "no-such-layer" }, ct));
        Assert.Contains("bottleneck", badLayer.Message, StringComparison.Ordinal);
        var badShape = Assert.Throws<InvalidRequestException>(() => engine.Compute(UNet, Request(PixelSet.All()) with { InputShape = [1, 2, 48, 40] }, ct));
        Assert.Contains("[?, 1, 48, 40]", badShape.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cancellation_before_the_run_stops_it()
    {
        using var engine = new CamEngine();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => engine.Compute(UNet, Request(PixelSet.All()), cts.Token));
    }

    [Fact]
    public void Cancellation_during_the_run_terminates_it()
    {
        using var engine = new CamEngine();
        var ct = TestContext.Current.CancellationToken;
        long[] shape = [384, 1, 48, 40];
        var random = new Random(5);
        // A large batch (the model fixes the spatial size) so the run lasts long enough to be interrupted.
        var request = Request(PixelSet.All()) with
        {
            Input = Enumerable.Range(0, 384 * 48 * 40).Select(_ => (float)random.NextDouble()).ToArray(),
            InputShape = shape,
        };
        engine.Prepare(UNet, request.Layer, shape, request.Options);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        engine.Compute(UNet, request, ct);
        var full = clock.Elapsed;

        // Cancel a tenth of the way into an identical run: RunOptions.Terminate stops it between nodes.
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(full / 10);
        Assert.ThrowsAny<OperationCanceledException>(() => engine.Compute(UNet, request, cts.Token));
    }

    [Fact]
    public void Float64_and_float32_sessions_are_separate_and_agree()
    {
        using var engine = new CamEngine();
        var ct = TestContext.Current.CancellationToken;
        var box = PixelSet.Box([10, 8], [30, 25]);
        var single = engine.Compute(UNet, Request(box), ct);
        var dbl = engine.Compute(UNet, Request(box, AllMethods with { Precision = CamPrecision.Float64 }), ct);
        Assert.Equal(2, engine.CachedSessions);
        foreach (var (method, map) in single.Maps)
        {
            AssertClose(dbl.Maps[method], map, 1e-4, method.Id());
        }

        AssertClose(dbl.Gradient!, single.Gradient!, 1e-4, "gradient");
    }

    [Theory]
    [InlineData(CamPrecision.Float32, 1e-4)]
    [InlineData(CamPrecision.Float64, 1e-6)]
    public void Several_layers_in_one_pass_give_each_layers_own_maps_gradient_and_activation(CamPrecision precision, double tolerance)
    {
        using var engine = new CamEngine();
        var set = PixelSet.Box([4, 4], [20, 24]);
        var options = AllMethods with { Precision = precision };
        string[] layers = ["bottleneck", "encoder level 1", "decoder level 1"];
        var together = engine.Compute(UNet, Request(set, options) with { Layers = layers }, TestContext.Current.CancellationToken);

        Assert.Equal(3, together.Layers.Count);
        Assert.Equal(1, engine.CachedSessions); // one graph: one forward, one backward sweep for all three
        for (var l = 0; l < layers.Length; l++)
        {
            var alone = engine.Compute(UNet, Request(set, options) with { Layer = layers[l] }, TestContext.Current.CancellationToken);
            var mine = together.Layers[l];
            Assert.Equal(alone.Layer, mine.Layer);
            Assert.Equal(alone.ActivationShape, mine.ActivationShape);
            AssertClose(alone.Gradient!, mine.Gradient!, tolerance, $"{layers[l]} gradient");
            AssertClose(alone.Activation!, mine.Activation!, tolerance, $"{layers[l]} activation");
            foreach (var (method, map) in alone.Maps)
            {
                AssertClose(map, mine.Maps[method], tolerance, $"{layers[l]} {method.Id()}");
            }
        }

        Assert.NotEqual(together.Layers[0].ActivationShape, together.Layers[1].ActivationShape);
        Assert.Same(together.Layers[0].Maps, together.Maps);
    }

    [Fact]
    public void Layers_resolving_to_one_tensor_twice_are_refused()
    {
        using var engine = new CamEngine();
        var bottleneck = LayerCatalog.Resolve(UNet, Input.Shape.Select(d => (long)d).ToArray(), "bottleneck");
        var error = Assert.Throws<InvalidRequestException>(() => engine.Compute(UNet, Request(PixelSet.All()) with { Layers = ["bottleneck", bottleneck] }, TestContext.Current.CancellationToken));
        Assert.Contains("resolve to the same tensor more than once", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Layer_roles_follow_the_unet_structure()
    {
        var layers = LayerCatalog.List(UNet, [1, 1, 48, 40]);
        Assert.Equal("/bottleneck/bottleneck.5/Relu_output_0", layers.Single(l => l.IsDefault).Name);
        Assert.Equal("encoder level 1", layers.First(l => l.Name.StartsWith("/enc1/", StringComparison.Ordinal)).Role);
        Assert.Equal("/enc1/enc1.5/Relu_output_0", LayerCatalog.Resolve(UNet, [1, 1, 48, 40], "encoder level 1"));
        Assert.Equal("/dec2/dec2.5/Relu_output_0", LayerCatalog.Resolve(UNet, [1, 1, 48, 40], "decoder level 2"));
    }

    private static void AssertClose(float[] expected, float[] actual, double relative, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = expected.Select(Math.Abs).DefaultIfEmpty(0f).Max();
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).DefaultIfEmpty(0f).Max();
        Assert.True(worst <= relative * Math.Max(scale, 1e-12), $"{what}: max diff {worst:E3} vs scale {scale:E3}");
    }

    private static string FindFixtures()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "fixtures");
            if (Directory.Exists(Path.Combine(candidate, "models")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/fixtures not found");
    }
}
