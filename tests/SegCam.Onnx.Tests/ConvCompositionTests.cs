using Microsoft.ML.OnnxRuntime;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Optimization;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Tests;

/// <summary>
/// The convolution rewrites of the NCHWc pass (engine-added convolutions only): a strided Conv after a Conv (or after a
/// channel Slice of one) composed into one Conv on the coarse grid, and a 1×1 Conv of unblockable width as a MatMul.
/// Each rewritten graph computes what the original did, through ORT with and without its own optimisations.
/// </summary>
public sealed class ConvCompositionTests
{
    [Theory]
    [InlineData(10, 12, new long[] { 1, 1, 1, 1 }, 2, 2)]
    [InlineData(9, 11, new long[] { 1, 0, 2, 1 }, 2, 2)]   // asymmetric pads, odd sizes (C2 drops C1's last row)
    [InlineData(11, 9, new long[] { 0, 1, 1, 0 }, 3, 2)]   // overlapping C2 windows: a 5×5 composed kernel
    public void A_strided_conv_after_a_conv_becomes_one_conv_on_the_coarse_grid(long height, long width, long[] pads, long k2, long stride)
    {
        var g = new TestGraph(17, 2, 16, height, width);
        var first = Engine(g, g.Node("Conv", ["a", g.Const([16, 16, 3, 3], scale: 0.3)], Attr.Ints("kernel_shape", [3, 3]), Attr.Ints("pads", pads)));
        var second = Engine(g, g.Node("Conv", [first, g.Const([32, 16, k2, k2], scale: 0.3)], Attr.Ints("kernel_shape", [k2, k2]), Attr.Ints("strides", [stride, stride])));
        g.Output(g.Node("Relu", [second]));
        long[] shape = [2, 16, height, width];
        var (x, before, rewritten) = RewriteOnce(g, shape, 5);
        var composed = Assert.Single(rewritten.Graph.Node, n => n.OpType == "Conv");
        Assert.Equal([2 + k2, 2 + k2], IntsOf(composed, "kernel_shape"));
        Assert.Equal([stride, stride], IntsOf(composed, "strides"));
        AssertSame(before, rewritten, x, shape);
    }

    [Fact]
    public void A_channel_slice_between_the_convs_is_composed_and_the_other_slice_keeps_its_rows()
    {
        // The top level of a U-Net's backward pass: C1 is the Concat's gradient, its first 8 rows go through the
        // ConvTranspose's gradient (C2), the other 8 to the skip connection.
        var g = new TestGraph(17, 2, 8, 12, 10);
        var first = Engine(g, g.Node("Conv", ["a", g.Const([16, 8, 3, 3], scale: 0.3)], Attr.Ints("kernel_shape", [3, 3]), Attr.Ints("pads", [1, 1, 1, 1])));
        var up = g.Node("Slice", [first, g.Ints(0), g.Ints(8), g.Ints(1)]);
        var skip = g.Node("Slice", [first, g.Ints(8), g.Ints(16), g.Ints(1)]);
        var second = Engine(g, g.Node("Conv", [up, g.Const([16, 8, 2, 2], scale: 0.3)], Attr.Ints("kernel_shape", [2, 2]), Attr.Ints("strides", [2, 2])));
        g.Output(g.Node("Relu", [second]));
        AddOutput(g, g.Node("Relu", [skip]));
        long[] shape = [2, 8, 12, 10];
        var (x, before, rewritten) = RewriteOnce(g, shape, 6);
        Assert.DoesNotContain(rewritten.Graph.Node, n => n.OpType == "Slice");
        var convs = rewritten.Graph.Node.Where(n => n.OpType == "Conv").ToArray();
        Assert.Equal(2, convs.Length);
        Assert.Contains(convs, c => IntsOf(c, "kernel_shape").SequenceEqual([4L, 4L]));
        Assert.Contains(convs, c => c.Output[0] == skip && TensorValues.ToDoubles(rewritten.Graph.Initializer.Single(i => i.Name == c.Input[1])).Length == 8 * 8 * 9);
        AssertSame(before, rewritten, x, shape);
    }

    [Fact]
    public void Compositions_that_would_not_pay_or_not_be_exact_are_left_alone()
    {
        var g = new TestGraph(17, 1, 16, 8, 8);
        Attr3x3(out var k3, out var p1);
        // The model's own convolutions (no engine prefix).
        var model = g.Node("Conv", [g.Node("Conv", ["a", g.Const([16, 16, 3, 3])], k3, p1), g.Const([32, 16, 2, 2])], Attr.Ints("kernel_shape", [2, 2]), Attr.Ints("strides", [2, 2]));
        // A stride-1 3×3 after a 3×3: the 5×5 composition costs more than the two.
        var unstrided = Engine(g, g.Node("Conv", [Engine(g, g.Node("Conv", ["a", g.Const([16, 16, 3, 3])], k3, p1)), g.Const([16, 16, 3, 3])], k3));
        // C2 pads its input: C1's values outside its output are not zero, so no composition is exact.
        var padded = Engine(g, g.Node("Conv", [Engine(g, g.Node("Conv", ["a", g.Const([16, 16, 3, 3])], k3, p1)), g.Const([32, 16, 2, 2])], Attr.Ints("kernel_shape", [2, 2]), Attr.Ints("strides", [2, 2]), Attr.Ints("pads", [1, 1, 0, 0])));
        // C1's output is read twice.
        var shared = Engine(g, g.Node("Conv", ["a", g.Const([16, 16, 3, 3])], k3, p1));
        var twice = Engine(g, g.Node("Conv", [shared, g.Const([32, 16, 2, 2])], Attr.Ints("kernel_shape", [2, 2]), Attr.Ints("strides", [2, 2])));
        g.Output(g.Node("Add", [g.Node("Add", [model, twice]), g.Node("Add", [g.Node("ReduceMean", [padded], Attr.Ints("axes", [2, 3])), g.Node("ReduceMean", [unstrided], Attr.Ints("axes", [2, 3]))])]));
        AddOutput(g, g.Node("Relu", [shared]));
        var before = g.Model.Clone();
        Assert.Equal(0, NchwcLayoutRewrite.Apply(g.Model.Graph, 17, _ => null));
        Assert.Equal(before, g.Model);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_pointwise_conv_of_unblockable_width_becomes_a_matmul(bool bias)
    {
        // The gradient of a segmentation head: classes → the last level's 8 channels.
        var g = new TestGraph(17, 2, 3, 9, 11);
        string[] inputs = bias ? ["a", g.Const([8, 3, 1, 1]), g.Const([8])] : ["a", g.Const([8, 3, 1, 1])];
        var head = Engine(g, g.Node("Conv", inputs, Attr.Ints("kernel_shape", [1, 1])));
        var wide = Engine(g, g.Node("Conv", ["a", g.Const([16, 3, 1, 1])], Attr.Ints("kernel_shape", [1, 1]))); // a whole block: stays
        g.Output(g.Node("Relu", [head]));
        AddOutput(g, g.Node("Relu", [wide]));
        long[] shape = [2, 3, 9, 11];
        var (x, before, rewritten) = RewriteOnce(g, shape, 7);
        Assert.Contains(rewritten.Graph.Node, n => n.OpType == "MatMul");
        Assert.DoesNotContain(rewritten.Graph.Node, n => n.OpType == "Conv" && n.Output[0] == head);
        Assert.Contains(rewritten.Graph.Node, n => n.OpType == "Conv" && n.Output[0] == wide);
        AssertSame(before, rewritten, x, shape);
    }

    /// <summary>Runs the original graph on a random input, then rewrites a copy, asserting exactly one rewrite.</summary>
    private static (float[] X, float[][] Before, ModelProto Rewritten) RewriteOnce(TestGraph g, long[] shape, int seed)
    {
        var x = Input(shape, seed);
        var before = Run(g.Model, x, shape, GraphOptimizationLevel.ORT_DISABLE_ALL);
        var rewritten = g.Model.Clone();
        Assert.Equal(1, NchwcLayoutRewrite.Apply(rewritten.Graph, 17, _ => null));
        return (x, before, rewritten);
    }

    private static void Attr3x3(out AttributeProto kernel, out AttributeProto pads)
        => (kernel, pads) = (Attr.Ints("kernel_shape", [3, 3]), Attr.Ints("pads", [1, 1, 1, 1]));

    /// <summary>Marks the node producing <paramref name="tensor"/> as engine-added (the rewrites touch no model node).</summary>
    private static string Engine(TestGraph g, string tensor)
    {
        var node = g.Model.Graph.Node.Single(n => n.Output.Contains(tensor));
        node.Name = GraphBuilder.Prefix + "grad/" + node.Name;
        return tensor;
    }

    private static void AddOutput(TestGraph g, string tensor) =>
        g.Model.Graph.Output.Add(new ValueInfoProto { Name = tensor, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = TensorValues.Float } } });

    private static long[] IntsOf(NodeProto conv, string name) => conv.Attribute.Single(a => a.Name == name).Ints.ToArray();

    private static float[] Input(long[] shape, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, (int)shape.Aggregate(1L, (p, d) => p * d)).Select(_ => (float)TestGraph.Normal(random)).ToArray();
    }

    private static void AssertSame(float[][] before, ModelProto rewritten, float[] x, long[] shape)
    {
        foreach (var level in new[] { GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_ALL })
        {
            var after = Run(rewritten, x, shape, level);
            Assert.Equal(before.Length, after.Length);
            for (var o = 0; o < before.Length; o++)
            {
                Assert.Equal(before[o].Length, after[o].Length);
                var scale = before[o].Max(v => Math.Abs(v));
                var worst = before[o].Zip(after[o], (p, q) => Math.Abs(p - q)).Max();
                Assert.True(scale > 0 && worst <= 1e-5 * scale, $"{level}, output {o}: max difference {worst:E3}, scale {scale:E3}");
            }
        }
    }

    private static float[][] Run(ModelProto model, float[] x, long[] shape, GraphOptimizationLevel level)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = level };
        using var session = new InferenceSession(OnnxModelFile.ToBytes(model), options);
        using var value = OrtValue.CreateTensorValueFromMemory(x, shape);
        using var runOptions = new RunOptions();
        var names = model.Graph.Output.Select(o => o.Name).ToArray();
        using var outputs = session.Run(runOptions, ["a"], [value], names);
        return outputs.Select(o => o.GetTensorDataAsSpan<float>().ToArray()).ToArray();
    }
}
