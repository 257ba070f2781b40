using Microsoft.ML.OnnxRuntime;
using SegCam.Onnx.Model;
using SegCam.Onnx.Precision;
using SegCam.Onnx.Probing;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Tests;

/// <summary>
/// The float64 rewrite: every operator ORT runs in float32 only is replaced by a float64 composition that ORT accepts
/// and that computes the same function (checked against the float32 original, to float32 accuracy), and the
/// double-only parts (Erf) are checked against an independent high-precision evaluation.
/// </summary>
public sealed class Float64ConversionTests
{
    public static TheoryData<string> Cases() => new(
        "Conv2dStridedAsymmetric", "Conv2dDilatedGrouped", "Conv3d", "Conv1d", "ConvSameUpper", "ConvSameLower", "ConvValid",
        "ConvTranspose2d", "ConvTransposeGroupedDilated", "ConvTranspose3d", "ConvTransposeOutputShape", "ConvTransposeSameUpper",
        "AveragePoolCeil", "AveragePoolIncludePad", "AveragePool3d", "GlobalAveragePool", "GlobalAveragePool3d",
        "InstanceNorm2d", "InstanceNorm3d", "GroupNorm18", "GroupNorm21",
        "ResizeLinearSizes", "ResizeNearestScales", "ResizeCubic", "ResizeAlignCorners", "ResizeOpset11", "ResizeTrilinear",
        "Elu", "Selu", "HardSigmoid", "HardSwish", "LeakyRelu", "PRelu", "Clip11", "Clip13", "Erf", "GeluExact", "GeluTanh");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float64_rewrite_computes_the_float32_function(string name)
    {
        var g = Build(name);
        var count = (int)g.InputShape.Aggregate(1L, (a, d) => a * d);
        var random = new Random(7);
        var x = Enumerable.Range(0, count).Select(_ => (float)(TestGraph.Normal(random) * 1.5)).ToArray();
        var converted = Convert(g, x);

        var op = g.Model.Graph.Node[0].OpType;
        Assert.DoesNotContain(converted.Graph.Node, n => n.OpType == op);
        var y32 = RunFloat(g.Model, g.InputShape, x);
        var y64 = RunDouble(converted, g.InputShape, x);
        Assert.Equal(y32.Length, y64.Length);
        var scale = y32.Max(v => Math.Abs((double)v));
        var worst = y32.Zip(y64, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 2e-6 * Math.Max(scale, 1e-3), $"{name}: max|f64 - f32| = {worst:E3}, scale {scale:E3}");
    }

    [Fact]
    public void Float64_erf_is_accurate_to_double_precision()
    {
        var g = new TestGraph(17, 1, 1, 1, 64);
        g.Output(g.Node("Erf", ["a"]));
        var x = Enumerable.Range(0, 64).Select(i => (float)(-6.3 + (i * 0.2))).ToArray();
        var y = RunDouble(Convert(g, x), g.InputShape, x);
        for (var i = 0; i < x.Length; i++)
        {
            // Beyond |x| = 5, |erf| is 1 within erfc(5) = 1.5e-12.
            var (want, tolerance) = Math.Abs(x[i]) <= 5 ? (ReferenceErf(x[i]), 1e-13) : (Math.Sign(x[i]), 2e-12);
            Assert.True(Math.Abs(y[i] - want) <= tolerance, $"erf({x[i]}) = {y[i]:R}, want {want:R}");
        }
    }

    [Fact]
    public void Gelu_constant_rounded_to_float32_is_replaced_by_the_exact_one()
    {
        // PyTorch's GELU export: x·½·(1 + erf(x / float32(√2))). In double the model means √2 exactly.
        var g = new TestGraph(17, 1, 1, 1, 8);
        var root2 = g.Const([], [(float)Math.Sqrt(2)]);
        var erf = g.Node("Erf", [g.Node("Div", ["a", root2])]);
        g.Output(erf);
        float[] x = [0.3f, -1.7f, 2.2f, 0.9f, -0.05f, 1.1f, -2.6f, 3.1f];
        var y = RunDouble(Convert(g, x), g.InputShape, x);
        for (var i = 0; i < x.Length; i++)
        {
            var want = ReferenceErf(x[i] / Math.Sqrt(2));
            Assert.True(Math.Abs(y[i] - want) <= 1e-13, $"erf({x[i]}/√2) = {y[i]:R}, want {want:R}");
        }
    }

    [Fact]
    public void Float32_interface_is_kept_and_float64_outputs_are_optional()
    {
        var g = new TestGraph(17, 1, 2, 5, 5);
        g.Output(g.Node("Conv", ["a", g.Const([3, 2, 3, 3])], A.Is("pads", 1, 1, 1, 1)));
        var x = Enumerable.Range(0, 50).Select(i => i * 0.1f).ToArray();
        var kept = Convert(g, x, float32Outputs: true);
        Assert.Equal(TensorValues.Float, kept.Graph.Input.Single(i => i.Name == "a").Type.TensorType.ElemType);
        Assert.Equal(TensorValues.Float, kept.Graph.Output.Single().Type.TensorType.ElemType);
        Assert.Equal(RunFloat(g.Model, g.InputShape, x).Length, RunFloat(kept, g.InputShape, x).Length);
        Assert.DoesNotContain(kept.Graph.Initializer, t => t.DataType == TensorValues.Float);
    }

    private static TestGraph Build(string name)
    {
        TestGraph g;
        switch (name)
        {
            case "Conv2dStridedAsymmetric":
                g = new TestGraph(17, 2, 3, 9, 8);
                g.Output(g.Node("Conv", ["a", g.Const([4, 3, 3, 2]), g.Const([4])], A.Is("strides", 2, 1), A.Is("pads", 1, 0, 2, 1)));
                break;
            case "Conv2dDilatedGrouped":
                g = new TestGraph(17, 1, 4, 11, 10);
                g.Output(g.Node("Conv", ["a", g.Const([6, 2, 3, 3])], A.Is("dilations", 2, 2), A.Is("pads", 2, 2, 2, 2), A.I("group", 2)));
                break;
            case "Conv3d":
                g = new TestGraph(17, 1, 2, 5, 6, 7);
                g.Output(g.Node("Conv", ["a", g.Const([3, 2, 3, 3, 3]), g.Const([3])], A.Is("strides", 1, 2, 2), A.Is("pads", 1, 1, 1, 1, 1, 1)));
                break;
            case "Conv1d":
                g = new TestGraph(17, 2, 3, 12);
                g.Output(g.Node("Conv", ["a", g.Const([2, 3, 4])], A.Is("strides", 3)));
                break;
            case "ConvSameUpper":
                g = new TestGraph(17, 1, 2, 7, 8);
                g.Output(g.Node("Conv", ["a", g.Const([2, 2, 4, 3])], A.S("auto_pad", "SAME_UPPER"), A.Is("strides", 2, 2)));
                break;
            case "ConvSameLower":
                g = new TestGraph(17, 1, 2, 7, 8);
                g.Output(g.Node("Conv", ["a", g.Const([2, 2, 4, 3])], A.S("auto_pad", "SAME_LOWER")));
                break;
            case "ConvValid":
                g = new TestGraph(17, 1, 2, 7, 8);
                g.Output(g.Node("Conv", ["a", g.Const([2, 2, 3, 3])], A.S("auto_pad", "VALID")));
                break;
            case "ConvTranspose2d":
                g = new TestGraph(17, 2, 3, 5, 4);
                g.Output(g.Node("ConvTranspose", ["a", g.Const([3, 2, 3, 3]), g.Const([2])], A.Is("strides", 2, 2), A.Is("pads", 1, 0, 1, 1), A.Is("output_padding", 1, 0)));
                break;
            case "ConvTransposeGroupedDilated":
                g = new TestGraph(17, 1, 4, 5, 5);
                g.Output(g.Node("ConvTranspose", ["a", g.Const([4, 3, 3, 2])], A.I("group", 2), A.Is("dilations", 2, 1), A.Is("strides", 3, 2), A.Is("pads", 2, 0, 1, 1)));
                break;
            case "ConvTranspose3d":
                g = new TestGraph(17, 1, 2, 3, 4, 3);
                g.Output(g.Node("ConvTranspose", ["a", g.Const([2, 3, 2, 2, 2]), g.Const([3])], A.Is("strides", 2, 2, 2)));
                break;
            case "ConvTransposeOutputShape":
                g = new TestGraph(17, 1, 2, 4, 4);
                g.Output(g.Node("ConvTranspose", ["a", g.Const([2, 2, 3, 3])], A.Is("strides", 2, 2), A.Is("output_shape", 9, 8)));
                break;
            case "ConvTransposeSameUpper":
                g = new TestGraph(17, 1, 2, 4, 5);
                g.Output(g.Node("ConvTranspose", ["a", g.Const([2, 2, 3, 3])], A.Is("strides", 2, 2), A.S("auto_pad", "SAME_UPPER")));
                break;
            case "AveragePoolCeil":
                g = new TestGraph(17, 1, 2, 9, 8);
                g.Output(g.Node("AveragePool", ["a"], A.Is("kernel_shape", 3, 3), A.Is("strides", 2, 2), A.Is("pads", 1, 0, 0, 1), A.I("ceil_mode", 1)));
                break;
            case "AveragePoolIncludePad":
                g = new TestGraph(17, 1, 2, 7, 7);
                g.Output(g.Node("AveragePool", ["a"], A.Is("kernel_shape", 3, 2), A.Is("pads", 1, 1, 1, 0), A.I("count_include_pad", 1)));
                break;
            case "AveragePool3d":
                g = new TestGraph(17, 1, 2, 4, 5, 6);
                g.Output(g.Node("AveragePool", ["a"], A.Is("kernel_shape", 2, 2, 2), A.Is("strides", 2, 2, 2)));
                break;
            case "GlobalAveragePool":
                g = new TestGraph(17, 2, 3, 5, 4);
                g.Output(g.Node("GlobalAveragePool", ["a"]));
                break;
            case "GlobalAveragePool3d":
                g = new TestGraph(17, 1, 3, 3, 4, 5);
                g.Output(g.Node("GlobalAveragePool", ["a"]));
                break;
            case "InstanceNorm2d":
                g = new TestGraph(17, 2, 3, 5, 4);
                g.Output(g.Node("InstanceNormalization", ["a", g.Const([3]), g.Const([3])], A.F("epsilon", 1e-3f)));
                break;
            case "InstanceNorm3d":
                g = new TestGraph(17, 1, 2, 3, 4, 5);
                g.Output(g.Node("InstanceNormalization", ["a", g.Const([2]), g.Const([2])]));
                break;
            case "GroupNorm18":
                g = new TestGraph(18, 2, 4, 3, 3);
                g.Output(g.Node("GroupNormalization", ["a", g.Const([2]), g.Const([2])], A.I("num_groups", 2)));
                break;
            case "GroupNorm21":
                g = new TestGraph(21, 2, 4, 3, 3);
                g.Output(g.Node("GroupNormalization", ["a", g.Const([4]), g.Const([4])], A.I("num_groups", 2)));
                break;
            case "ResizeLinearSizes":
                g = new TestGraph(17, 1, 2, 5, 7);
                g.Output(g.Node("Resize", ["a", "", "", g.Ints(1, 2, 12, 9)], A.S("mode", "linear")));
                break;
            case "ResizeNearestScales":
                g = new TestGraph(17, 1, 2, 5, 7);
                g.Output(g.Node("Resize", ["a", "", g.Const([4], [1, 1, 2, 3])], A.S("mode", "nearest"), A.S("coordinate_transformation_mode", "asymmetric")));
                break;
            case "ResizeCubic":
                g = new TestGraph(17, 1, 1, 6, 5);
                g.Output(g.Node("Resize", ["a", "", "", g.Ints(1, 1, 11, 8)], A.S("mode", "cubic")));
                break;
            case "ResizeAlignCorners":
                g = new TestGraph(17, 1, 2, 5, 4);
                g.Output(g.Node("Resize", ["a", "", "", g.Ints(1, 2, 9, 7)], A.S("mode", "linear"), A.S("coordinate_transformation_mode", "align_corners")));
                break;
            case "ResizeOpset11":
                g = new TestGraph(11, 1, 2, 4, 4);
                g.Output(g.Node("Resize", ["a", g.Const([0], []), g.Const([4], [1, 1, 1.5f, 2])], A.S("mode", "linear"), A.S("coordinate_transformation_mode", "pytorch_half_pixel")));
                break;
            case "ResizeTrilinear":
                g = new TestGraph(17, 1, 1, 3, 4, 5);
                g.Output(g.Node("Resize", ["a", "", "", g.Ints(1, 1, 6, 7, 10)], A.S("mode", "linear")));
                break;
            case "Elu":
                g = new TestGraph(17, 2, 3, 4);
                g.Output(g.Node("Elu", ["a"], A.F("alpha", 0.7f)));
                break;
            case "Selu":
                g = new TestGraph(17, 2, 3, 4);
                g.Output(g.Node("Selu", ["a"]));
                break;
            case "HardSigmoid":
                g = new TestGraph(17, 2, 3, 4);
                g.Output(g.Node("HardSigmoid", ["a"], A.F("alpha", 0.3f), A.F("beta", 0.4f)));
                break;
            case "HardSwish":
                g = new TestGraph(17, 2, 3, 4);
                g.Output(g.Node("HardSwish", ["a"]));
                break;
            case "LeakyRelu":
                g = new TestGraph(13, 2, 3, 4);
                g.Output(g.Node("LeakyRelu", ["a"], A.F("alpha", 0.1f)));
                break;
            case "PRelu":
                g = new TestGraph(13, 2, 3, 4, 2);
                g.Output(g.Node("PRelu", ["a", g.Const([3, 1, 1])]));
                break;
            case "Clip11":
                g = new TestGraph(11, 2, 3, 4);
                g.Output(g.Node("Clip", ["a", g.Const([], [-0.3f]), g.Const([], [1.2f])]));
                break;
            case "Clip13":
                g = new TestGraph(13, 2, 3, 4);
                g.Output(g.Node("Clip", ["a", "", g.Const([], [0.5f])]));
                break;
            case "Erf":
                g = new TestGraph(17, 2, 3, 4);
                g.Output(g.Node("Erf", ["a"]));
                break;
            case "GeluExact":
                g = new TestGraph(20, 2, 3, 4);
                g.Output(g.Node("Gelu", ["a"]));
                break;
            case "GeluTanh":
                g = new TestGraph(20, 2, 3, 4);
                g.Output(g.Node("Gelu", ["a"], A.S("approximate", "tanh")));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(name), name, null);
        }

        return g;
    }

    private static ModelProto Convert(TestGraph g, float[] x, bool float32Outputs = false)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(x, g.InputShape);
        var info = ShapeProbe.Run(g.Model, new Dictionary<string, OrtValue> { ["a"] = value });
        return Float64Conversion.Convert(g.Model, _ => info, float32Outputs);
    }

    private static float[] RunFloat(ModelProto model, long[] shape, float[] x)
    {
        using var session = new InferenceSession(OnnxModelFile.ToBytes(model));
        using var value = OrtValue.CreateTensorValueFromMemory(x, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["a"], [value], ["y"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static double[] RunDouble(ModelProto model, long[] shape, float[] x)
    {
        using var session = new InferenceSession(OnnxModelFile.ToBytes(model));
        using var value = OrtValue.CreateTensorValueFromMemory(x, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["a"], [value], ["y"]);
        return outputs[0].GetTensorDataAsSpan<double>().ToArray();
    }

    /// <summary>erf by its alternating Taylor series in 28-digit decimal arithmetic (cancellation costs under 9 of its digits for |x| ≤ 5).</summary>
    private static double ReferenceErf(double x)
    {
        var z = (decimal)x;
        var z2 = z * z;
        var term = z;
        var sum = z;
        for (var n = 1; n < 400 && term != 0; n++)
        {
            term = -term * z2 / n;
            sum += term / ((2 * n) + 1);
        }

        const decimal twoOverRootPi = 1.1283791670955125738961589031m;
        return (double)(sum * twoOverRootPi);
    }
}
