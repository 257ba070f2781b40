using Microsoft.ML.OnnxRuntime;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Optimization;
using SegCam.Onnx.Probing;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Tests;

/// <summary>
/// The NCHWc layout rewrite keeps the function: ReLU masks (Sign of a Relu output) and channel slices of a Conv are replaced, and the
/// rewritten graph computes what the original did (ORT, with and without its own optimisations).
/// </summary>
public sealed class NchwcLayoutRewriteTests
{
    [Theory]
    [InlineData(17)]
    [InlineData(11)]
    public void Relu_masks_and_sliced_convs_are_rewritten_and_compute_the_same(int opset)
    {
        var g = new TestGraph(opset, 2, 16, 9, 11);
        // relu has positive and exactly-zero entries; dy is a second tensor.
        var y = g.Node("Conv", ["a", g.Const([16, 16, 3, 3], scale: 0.3)], Attr.Ints("kernel_shape", [3, 3]), Attr.Ints("pads", [1, 1, 1, 1]));
        var relu = g.Node("Relu", [y]);
        var relu2 = g.Node("Relu", [g.Node("Conv", [relu, g.Const([16, 16, 1, 1])], Attr.Ints("kernel_shape", [1, 1]))]);
        var dy = g.Node("Conv", [relu2, g.Const([16, 16, 1, 1])], Attr.Ints("kernel_shape", [1, 1]));
        var masked = g.Node("Mul", [dy, g.Node("Sign", [relu])]);
        var masked2 = g.Node("Mul", [g.Node("Sign", [relu2]), dy]);
        var both = g.Node("Add", [masked, masked2]);
        var conv = g.Node("Conv", [both, g.Const([48, 16, 3, 3]), g.Const([48])], Attr.Ints("kernel_shape", [3, 3]), Attr.Ints("pads", [1, 1, 1, 1]));
        var first = Slice(g, conv, 0, 16);
        var second = Slice(g, conv, 16, 100);
        var third = Slice(g, conv, -16, 48);
        g.Output(g.Node("Concat", [first, g.Node("Mul", [second, g.Node("Concat", [first, third], Attr.Int("axis", 1))])], Attr.Int("axis", 1)));

        var random = new Random(3);
        var x = Enumerable.Range(0, 2 * 16 * 9 * 11).Select(i => i % 7 == 0 ? 0f : (float)TestGraph.Normal(random)).ToArray();
        var before = Run(g.Model, x, GraphOptimizationLevel.ORT_DISABLE_ALL);
        using var value = OrtValue.CreateTensorValueFromMemory(x, g.InputShape);
        var info = ShapeProbe.Run(g.Model, new Dictionary<string, OrtValue> { ["a"] = value });

        var rewritten = g.Model.Clone();
        var count = NchwcLayoutRewrite.Apply(rewritten.Graph, opset, name => info.TryGetValue(name, out var t) ? t.Shape : null);

        Assert.Equal(3, count); // two masks, one sliced Conv
        Assert.DoesNotContain(rewritten.Graph.Node, n => n.OpType is "Sign" or "Slice");
        Assert.Equal(5, rewritten.Graph.Node.Count(n => n.OpType == "Conv" && n.Name.Contains("nchwc", StringComparison.Ordinal)));
        foreach (var level in new[] { GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_ALL })
        {
            var after = Run(rewritten, x, level);
            Assert.Equal(before.Length, after.Length);
            var scale = before.Max(v => Math.Abs(v));
            var worst = before.Zip(after, (p, q) => Math.Abs(p - q)).Max();
            Assert.True(worst <= 1e-5 * scale, $"{level}: max difference {worst:E3}, scale {scale:E3}");
        }
    }

    [Fact]
    public void Masks_next_to_nchw_gradients_or_of_unblockable_channels_become_exact_casts()
    {
        // 16 channels beside a gradient that comes out of a Reshape (NCHW, as after a MaxPool's scatter), and 8 channels
        // (not a whole AVX-512 block): both become Cast(Cast(y, bool), float), which is exactly Sign(y) for y ≥ 0, subnormals too.
        var g = new TestGraph(17, 2, 24, 5, 7);
        var wide = g.Node("Relu", [g.Node("Slice", ["a", g.Ints(0), g.Ints(16), g.Ints(1)])]);
        var narrow = g.Node("Relu", [g.Node("Slice", ["a", g.Ints(16), g.Ints(24), g.Ints(1)])]);
        var nchwGradient = g.Node("Reshape", [g.Node("Reshape", [g.Node("Conv", [wide, g.Const([16, 16, 1, 1])], Attr.Ints("kernel_shape", [1, 1])), g.Ints(-1)]), g.Ints(2, 16, 5, 7)]);
        var blockedGradient = g.Node("Conv", [wide, g.Const([8, 16, 1, 1])], Attr.Ints("kernel_shape", [1, 1]));
        g.Output(g.Node("Concat", [g.Node("Mul", [nchwGradient, g.Node("Sign", [wide])]), g.Node("Mul", [g.Node("Sign", [narrow]), blockedGradient])], Attr.Int("axis", 1)));

        var random = new Random(5);
        var x = Enumerable.Range(0, 2 * 24 * 5 * 7).Select(i => (i % 5) switch
        {
            0 => 0f,
            1 => 3e-41f * (1 + (i % 3)), // subnormal
            _ => (float)TestGraph.Normal(random),
        }).ToArray();
        var before = Run(g.Model, x, GraphOptimizationLevel.ORT_DISABLE_ALL, [2, 24, 5, 7]);
        var rewritten = g.Model.Clone();
        var count = NchwcLayoutRewrite.Apply(rewritten.Graph, 17, name => name == "a" ? [2, 24, 5, 7] : null);

        Assert.Equal(2, count);
        Assert.Equal(4, rewritten.Graph.Node.Count(n => n.OpType == "Cast"));
        Assert.DoesNotContain(rewritten.Graph.Node, n => n.OpType is "Sign" || n.Name.Contains("relu_mask", StringComparison.Ordinal) && n.OpType == "Conv");
        foreach (var level in new[] { GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_ALL })
        {
            Assert.Equal(before, Run(rewritten, x, level, [2, 24, 5, 7])); // bit for bit: the masks are exact
        }
    }

    [Theory]
    [InlineData(17, true, 2, true)]
    [InlineData(11, true, 2, true)]
    [InlineData(17, false, 2, true)]
    [InlineData(17, true, 3, false)]
    public void The_max_pool_scatter_becomes_one_max_unpool_with_ties_routed_alike(int opset, bool shapesKnown, long k, bool storageOrder)
    {
        // The MaxPool gradient rule's pattern, on a ReLU output full of tied zeros and quantised (positive) ties. With
        // the pooled tensor's shape known, the Indices come from SpaceToDepth + ArgMax; without it, from MaxPool.
        var g = new TestGraph(opset, 2, 16, 4 * k, 3 * k);
        var relu = g.Node("Relu", ["a"]);
        AttributeProto[] poolAttributes = [Attr.Ints("kernel_shape", [k, k]), Attr.Ints("strides", [k, k]), .. storageOrder ? [Attr.Int("storage_order", 0)] : Array.Empty<AttributeProto>()];
        var pool = g.Nodes("MaxPool", [relu], 2, poolAttributes);
        var dy = g.Node("Conv", [pool[0], g.Const([16, 16, 1, 1])], Attr.Ints("kernel_shape", [1, 1]));
        var zeros = g.Node("ConstantOfShape", [g.Ints(2 * 16 * 12 * k * k)], Attr.Tensor("value", TensorValues.FromFloats(string.Empty, [0f], 1)));
        var scattered = g.Node("ScatterElements", [zeros, g.Node("Reshape", [pool[1], g.Ints(-1)]), g.Node("Reshape", [dy, g.Ints(-1)])], Attr.Int("axis", 0));
        var routed = g.Node("Reshape", [scattered, g.Ints(2, 16, 4 * k, 3 * k)]);
        g.Output(routed);

        var random = new Random(9);
        var x = Enumerable.Range(0, (int)(2 * 16 * 12 * k * k)).Select(_ => MathF.Round((float)TestGraph.Normal(random) * 2) / 2).ToArray();
        var before = Run(g.Model, x, GraphOptimizationLevel.ORT_DISABLE_ALL, [2, 16, 4 * k, 3 * k]);
        var rewritten = g.Model.Clone();

        Assert.Equal(shapesKnown ? 2 : 1, NchwcLayoutRewrite.Apply(rewritten.Graph, opset, name => shapesKnown && name == relu ? [2, 16, 4 * k, 3 * k] : null));
        Assert.Contains(rewritten.Graph.Node, n => n.OpType == "MaxUnpool");
        Assert.DoesNotContain(rewritten.Graph.Node, n => n.OpType is "ScatterElements" or "ConstantOfShape");
        Assert.Equal(shapesKnown, rewritten.Graph.Node.Any(n => n.OpType == "ArgMax"));
        Assert.Equal(!shapesKnown, rewritten.Graph.Node.Any(n => n.OpType == "MaxPool" && n.Output.Count == 2));
        AssertDeclaredShape(rewritten, routed, [2, 16, 4 * k, 3 * k]);
        Assert.Contains(before, v => v != 0);
        foreach (var level in new[] { GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_ALL })
        {
            Assert.Equal(before, Run(rewritten, x, level, [2, 16, 4 * k, 3 * k]));
        }
    }

    [Fact]
    public void Patterns_it_cannot_keep_exact_are_left_alone()
    {
        var g = new TestGraph(17, 1, 16, 5, 5);
        var conv = g.Node("Conv", ["a", g.Const([16, 16, 1, 1])], Attr.Ints("kernel_shape", [1, 1]));
        var notRelu = g.Node("Mul", [conv, g.Node("Sign", ["a"])]);                              // Sign of a value that may be negative
        var spatial = g.Node("Slice", [conv, g.Ints(1), g.Ints(4), g.Ints(2)]);                 // slices a spatial axis
        var strided = g.Node("Slice", [conv, g.Ints(0), g.Ints(16), g.Ints(1), g.Ints(2)]);     // step 2 on channels
        var wide = g.Node("Conv", ["a", g.Const([24, 16, 1, 1])], Attr.Ints("kernel_shape", [1, 1]));
        var narrow = g.Node("Slice", [wide, g.Ints(0), g.Ints(8), g.Ints(1)]);                  // 8 channels: not a whole block
        var rest = g.Node("Slice", [wide, g.Ints(8), g.Ints(24), g.Ints(1)]);                  // 16 channels: a whole block
        g.Output(g.Node("Add", [g.Node("Add", [notRelu, g.Node("Pad", [spatial, g.Ints(0, 0, 1, 0, 0, 0, 1, 0)])]), g.Node("Concat", [strided, strided], Attr.Int("axis", 1))]));
        g.Model.Graph.Output.Add(new ValueInfoProto { Name = narrow, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = TensorValues.Float } } });
        g.Model.Graph.Output.Add(new ValueInfoProto { Name = rest, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = TensorValues.Float } } });
        var before = g.Model.Clone();
        Assert.Equal(0, NchwcLayoutRewrite.Apply(g.Model.Graph, 17, _ => [1, 16, 5, 5]));
        Assert.Equal(before, g.Model);
    }

    [Fact]
    public void A_3d_max_pool_scatter_becomes_a_max_unpool_and_keeps_its_indices()
    {
        // SpaceToDepth is 4-D only: a 3-D pool keeps MaxPool's Indices, and only the scatter becomes a MaxUnpool.
        var g = new TestGraph(17, 2, 16, 4, 6, 4);
        var relu = g.Node("Relu", ["a"]);
        var pool = g.Nodes("MaxPool", [relu], 2, Attr.Ints("kernel_shape", [2, 2, 2]), Attr.Ints("strides", [2, 2, 2]), Attr.Int("storage_order", 0));
        var zeros = g.Node("ConstantOfShape", [g.Ints(2 * 16 * 4 * 6 * 4)], Attr.Tensor("value", TensorValues.FromFloats(string.Empty, [0f], 1)));
        var dy = g.Node("Mul", [pool[0], g.Const([1], [3f])]);
        var scattered = g.Node("ScatterElements", [zeros, g.Node("Reshape", [pool[1], g.Ints(-1)]), g.Node("Reshape", [dy, g.Ints(-1)])], Attr.Int("axis", 0));
        var routed = g.Node("Reshape", [scattered, g.Ints(2, 16, 4, 6, 4)]);
        g.Output(routed);

        var random = new Random(4);
        var x = Enumerable.Range(0, 2 * 16 * 4 * 6 * 4).Select(_ => MathF.Round((float)TestGraph.Normal(random) * 2) / 2).ToArray();
        long[] shape = [2, 16, 4, 6, 4];
        var before = Run(g.Model, x, GraphOptimizationLevel.ORT_DISABLE_ALL, shape);
        var rewritten = g.Model.Clone();

        Assert.Equal(1, NchwcLayoutRewrite.Apply(rewritten.Graph, 17, name => name == relu ? shape : null));
        Assert.Contains(rewritten.Graph.Node, n => n.OpType == "MaxUnpool");
        Assert.Contains(rewritten.Graph.Node, n => n.OpType == "MaxPool" && n.Output.Count == 2);
        AssertDeclaredShape(rewritten, routed, shape);
        Assert.Contains(before, v => v != 0);
        Assert.Equal(before, Run(rewritten, x, GraphOptimizationLevel.ORT_ENABLE_ALL, shape));
    }

    // ONNX shape inference leaves a MaxUnpool's output dims unknown when its output_shape is an input; ORT's NCHWc
    // transformer keeps an element-wise Mul blocked only when it can show both operands have equal dims.
    private static void AssertDeclaredShape(ModelProto model, string tensor, long[] shape)
    {
        var declared = Assert.Single(model.Graph.ValueInfo, v => v.Name == tensor);
        Assert.Equal(TensorValues.Float, declared.Type.TensorType.ElemType);
        Assert.Equal(shape, declared.Type.TensorType.Shape.Dim.Select(d => d.DimValue));
    }

    [Fact]
    public void Scatters_of_overlapping_pools_or_into_non_zero_data_are_left_alone()
    {
        var g = new TestGraph(17, 1, 16, 7, 7);
        var overlapping = g.Nodes("MaxPool", ["a"], 2, Attr.Ints("kernel_shape", [3, 3]), Attr.Ints("strides", [2, 2]));
        var filled = g.Node("ConstantOfShape", [g.Ints(16 * 7 * 7)], Attr.Tensor("value", TensorValues.FromFloats(string.Empty, [1f], 1)));
        var zeros = g.Node("ConstantOfShape", [g.Ints(16 * 7 * 7)], Attr.Tensor("value", TensorValues.FromFloats(string.Empty, [0f], 1)));
        var tiled = g.Nodes("MaxPool", ["a"], 2, Attr.Ints("kernel_shape", [2, 2]), Attr.Ints("strides", [2, 2]));
        string Scatter(string data, string[] pool) => g.Node("Reshape", [g.Node("ScatterElements", [data, g.Node("Reshape", [pool[1], g.Ints(-1)]), g.Node("Reshape", [pool[0], g.Ints(-1)])], Attr.Int("axis", 0)), g.Ints(1, 16, 7, 7)]);
        g.Output(g.Node("Add", [Scatter(zeros, overlapping), Scatter(filled, tiled)]));
        var before = g.Model.Clone();
        Assert.Equal(0, NchwcLayoutRewrite.Apply(g.Model.Graph, 17, _ => null));
        Assert.Equal(before, g.Model);
    }

    [Fact]
    public void Graphs_below_opset_11_are_left_alone()
    {
        // The engine never builds them (models are upgraded to opset 11 on load); Clip and Slice differ below it.
        var g = new TestGraph(10, 1, 16, 5, 5);
        var relu = g.Node("Relu", [g.Node("Conv", ["a", g.Const([16, 16, 1, 1])], Attr.Ints("kernel_shape", [1, 1]))]);
        g.Output(g.Node("Mul", [relu, g.Node("Sign", [relu])]));
        var before = g.Model.Clone();
        Assert.Equal(0, NchwcLayoutRewrite.Apply(g.Model.Graph, 10, _ => [1, 16, 5, 5]));
        Assert.Equal(before, g.Model);
    }

    private static string Slice(TestGraph g, string x, long start, long end)
        => g.Node("Slice", [x, g.Ints(start), g.Ints(end), g.Ints(1)]);

    private static float[] Run(ModelProto model, float[] x, GraphOptimizationLevel level, long[]? shape = null)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = level };
        using var session = new InferenceSession(OnnxModelFile.ToBytes(model), options);
        using var value = OrtValue.CreateTensorValueFromMemory(x, shape ?? [2, 16, 9, 11]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["a"], [value], [model.Graph.Output[0].Name]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
