namespace SegCam.Onnx.Tests;

/// <summary>
/// Every gradient rule against central finite differences through ORT forward runs, on random inputs,
/// 1-D/2-D/3-D where the op has them. Linear ops use step 1 (exact up to rounding) and a 1e-4 bound;
/// non-linear ops step 1e-3 with inputs kept away from kinks and a 1e-2 bound (AUTODIFF.md §3).
/// </summary>
public sealed class GradientRuleTests
{
    private const double LinearTolerance = 1e-4;
    private const double NonLinearTolerance = 1e-2;

    private static void AssertLinear(TestGraph g, float[]? input = null)
    {
        var error = GradientCheck.Run(g, linear: true, input: input);
        Assert.True(error < LinearTolerance, $"relative error {error:E2}");
    }

    private static void AssertNonLinear(TestGraph g, Func<Random, float>? sampler = null, float[]? input = null)
    {
        var error = GradientCheck.Run(g, linear: false, sampler, input);
        Assert.True(error < NonLinearTolerance, $"relative error {error:E2}");
    }

    public static TheoryData<string> ConvCases() => new(
        "2d-k3-s1-p1", "2d-k3-s2-p1-odd", "2d-asymmetric-pads", "2d-dilation2", "2d-groups2", "2d-same-upper-s2", "2d-same-lower-s2",
        "2d-valid-s3", "1d-k5-s2", "3d-k3-s2-p1", "2d-depthwise", "2d-k1");

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv_input_gradient_matches_finite_differences(string name)
    {
        var (shape, weight, attrs) = name switch
        {
            "2d-k3-s1-p1" => (new long[] { 2, 3, 6, 5 }, new long[] { 4, 3, 3, 3 }, new[] { A.Is("pads", 1, 1, 1, 1) }),
            "2d-k3-s2-p1-odd" => ([1, 2, 7, 6], [3, 2, 3, 3], [A.Is("pads", 1, 1, 1, 1), A.Is("strides", 2, 2)]),
            "2d-asymmetric-pads" => ([1, 2, 7, 6], [3, 2, 3, 2], [A.Is("pads", 0, 2, 1, 0), A.Is("strides", 2, 1)]),
            "2d-dilation2" => ([1, 2, 9, 8], [2, 2, 3, 3], [A.Is("pads", 2, 2, 2, 2), A.Is("dilations", 2, 2)]),
            "2d-groups2" => ([1, 4, 6, 6], [6, 2, 3, 3], [A.Is("pads", 1, 1, 1, 1), A.I("group", 2)]),
            "2d-same-upper-s2" => ([1, 2, 7, 8], [3, 2, 3, 3], [A.S("auto_pad", "SAME_UPPER"), A.Is("strides", 2, 2)]),
            "2d-same-lower-s2" => ([1, 2, 7, 8], [3, 2, 4, 3], [A.S("auto_pad", "SAME_LOWER"), A.Is("strides", 2, 2)]),
            "2d-valid-s3" => ([1, 2, 11, 10], [2, 2, 3, 2], [A.S("auto_pad", "VALID"), A.Is("strides", 3, 3)]),
            "1d-k5-s2" => ([2, 2, 13], [3, 2, 5], [A.Is("pads", 2, 1), A.Is("strides", 2)]),
            "3d-k3-s2-p1" => ([1, 2, 5, 6, 4], [3, 2, 3, 3, 3], [A.Is("pads", 1, 1, 1, 1, 1, 1), A.Is("strides", 2, 2, 2)]),
            "2d-depthwise" => ([1, 3, 6, 6], [3, 1, 3, 3], [A.Is("pads", 1, 1, 1, 1), A.I("group", 3)]),
            _ => ([1, 3, 5, 4], [2, 3, 1, 1], Array.Empty<Protocol.AttributeProto>()),
        };
        var g = new TestGraph(17, shape);
        var w = g.Const(weight, scale: 0.5);
        var b = g.Const([weight[0]]);
        g.Output(g.Node("Conv", ["a", w, b], attrs));
        AssertLinear(g);
    }

    public static TheoryData<string> ConvTransposeCases() => new(
        "2d-k2-s2", "2d-k3-s2-p1-op1", "2d-groups2", "2d-dilation2", "2d-output-shape", "2d-same-upper", "1d-k4-s3", "3d-k2-s2", "2d-asymmetric-pads");

    [Theory]
    [MemberData(nameof(ConvTransposeCases))]
    public void ConvTranspose_input_gradient_matches_finite_differences(string name)
    {
        var (shape, weight, attrs) = name switch
        {
            "2d-k2-s2" => (new long[] { 2, 3, 4, 5 }, new long[] { 3, 2, 2, 2 }, new[] { A.Is("strides", 2, 2) }),
            "2d-k3-s2-p1-op1" => ([1, 2, 4, 3], [2, 3, 3, 3], [A.Is("strides", 2, 2), A.Is("pads", 1, 1, 1, 1), A.Is("output_padding", 1, 1)]),
            "2d-groups2" => ([1, 4, 3, 3], [4, 1, 3, 3], [A.Is("strides", 2, 2), A.I("group", 2)]),
            "2d-dilation2" => ([1, 2, 4, 4], [2, 2, 3, 3], [A.Is("dilations", 2, 2), A.Is("pads", 1, 0, 1, 2)]),
            "2d-output-shape" => ([1, 2, 4, 4], [2, 2, 3, 3], [A.Is("strides", 2, 2), A.Is("output_shape", 8, 9)]),
            "2d-same-upper" => ([1, 2, 4, 5], [2, 2, 3, 3], [A.Is("strides", 2, 2), A.S("auto_pad", "SAME_UPPER")]),
            "1d-k4-s3" => ([1, 2, 5], [2, 3, 4], [A.Is("strides", 3), A.Is("pads", 1, 2)]),
            "3d-k2-s2" => ([1, 2, 3, 2, 3], [2, 2, 2, 2, 2], [A.Is("strides", 2, 2, 2)]),
            _ => ([1, 2, 4, 4], [2, 2, 3, 3], [A.Is("strides", 2, 1), A.Is("pads", 0, 1, 2, 0)]),
        };
        var g = new TestGraph(17, shape);
        var w = g.Const(weight, scale: 0.5);
        g.Output(g.Node("ConvTranspose", ["a", w], attrs));
        AssertLinear(g);
    }

    [Fact]
    public void BatchNormalization_gradient_matches_finite_differences()
    {
        var g = new TestGraph(15, 2, 3, 4, 5);
        var scale = g.Const([3]);
        var bias = g.Const([3]);
        var mean = g.Const([3]);
        var variance = g.Const([3], [0.5f, 1.2f, 2f]);
        g.Output(g.Node("BatchNormalization", ["a", scale, bias, mean, variance], A.F("epsilon", 1e-3f)));
        AssertLinear(g);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void InstanceNormalization_gradient_matches_finite_differences(int rank)
    {
        var g = new TestGraph(17, rank == 4 ? [2, 3, 5, 4] : [1, 2, 3, 4, 3]);
        var channels = g.InputShape[1];
        g.Output(g.Node("InstanceNormalization", ["a", g.Const([channels]), g.Const([channels])], A.F("epsilon", 1e-5f)));
        AssertNonLinear(g);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void LayerNormalization_gradient_matches_finite_differences(int axis)
    {
        var g = new TestGraph(17, 2, 3, 4, 5);
        long[] normalized = axis == -1 ? [5] : [3, 4, 5];
        g.Output(g.Node("LayerNormalization", ["a", g.Const(normalized), g.Const(normalized)], A.I("axis", axis)));
        AssertNonLinear(g);
    }

    [Theory]
    [InlineData(18)]
    [InlineData(21)]
    public void GroupNormalization_gradient_matches_finite_differences(int opset)
    {
        var g = new TestGraph(opset, 2, 4, 3, 3);
        long[] scaleShape = opset == 18 ? [2] : [4];
        g.Output(g.Node("GroupNormalization", ["a", g.Const(scaleShape), g.Const(scaleShape)], A.I("num_groups", 2)));
        AssertNonLinear(g);
    }

    public static TheoryData<string> ActivationCases() => new(
        "Relu", "LeakyRelu", "LeakyReluNegative", "PRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf",
        "GeluExact", "GeluTanh", "Clip11", "Clip13OnlyMin", "Softplus", "Identity", "Dropout", "Abs");

    [Theory]
    [MemberData(nameof(ActivationCases))]
    public void Activation_gradient_matches_finite_differences(string op)
    {
        var opset = op switch { "HardSwish" => 14, "GeluExact" or "GeluTanh" => 20, "Clip11" => 11, _ => 17 };
        var g = new TestGraph(opset, 2, 3, 4, 5);
        var y = op switch
        {
            "LeakyRelu" => g.Node("LeakyRelu", ["a"], A.F("alpha", 0.1f)),
            "LeakyReluNegative" => g.Node("LeakyRelu", ["a"], A.F("alpha", -0.5f)),
            "PRelu" => g.Node("PRelu", ["a", g.Const([3, 1, 1])]),
            "Elu" => g.Node("Elu", ["a"], A.F("alpha", 0.7f)),
            "HardSigmoid" => g.Node("HardSigmoid", ["a"], A.F("alpha", 0.3f), A.F("beta", 0.4f)),
            "GeluExact" => g.Node("Gelu", ["a"]),
            "GeluTanh" => g.Node("Gelu", ["a"], A.S("approximate", "tanh")),
            "Clip11" => g.Node("Clip", ["a", g.Const([], [-0.6f]), g.Const([], [0.8f])]),
            "Clip13OnlyMin" => g.Node("Clip", ["a", g.Const([], [-0.6f])]),
            _ => g.Node(op, ["a"]),
        };
        g.Output(y);
        var kinks = op switch
        {
            "HardSigmoid" => new[] { -0.4 / 0.3, 0.6 / 0.3 },
            "HardSwish" => [-3.0, 3.0],
            "Clip11" => [-0.6, 0.8],
            "Clip13OnlyMin" => [-0.6],
            _ => [0.0],
        };
        AssertNonLinear(g, GradientCheck.AwayFrom(kinks));
    }

    [Theory]
    [InlineData("Softmax", 13, 1)]
    [InlineData("Softmax", 13, -1)]
    [InlineData("Softmax", 11, 1)]
    [InlineData("LogSoftmax", 13, 1)]
    [InlineData("LogSoftmax", 11, 2)]
    public void Softmax_family_gradient_matches_finite_differences(string op, int opset, int axis)
    {
        var g = new TestGraph(opset, 2, 3, 4, 3);
        g.Output(g.Node(op, ["a"], A.I("axis", axis)));
        AssertNonLinear(g);
    }

    public static TheoryData<string> ArithmeticCases() => new(
        "Add-const-broadcast", "Sub-both-active", "Mul-self-mean", "Div-by-positive", "Div-active-denominator", "Sum3", "Pow2", "Sqrt", "Exp", "Log", "Neg", "Reciprocal");

    [Theory]
    [MemberData(nameof(ArithmeticCases))]
    public void Arithmetic_gradient_matches_finite_differences(string name)
    {
        var g = new TestGraph(17, 2, 3, 4);
        var mean = g.Node("ReduceMean", ["a"], A.Is("axes", 1), A.I("keepdims", 1));
        var positive = g.Node("Add", [g.Node("Mul", ["a", "a"]), g.Const([], [0.5f])]);
        var y = name switch
        {
            "Add-const-broadcast" => g.Node("Add", ["a", g.Const([3, 1])]),
            "Sub-both-active" => g.Node("Sub", [mean, "a"]),
            "Mul-self-mean" => g.Node("Mul", ["a", mean]),
            "Div-by-positive" => g.Node("Div", ["a", g.Const([4], [1f, 2f, 0.5f, 3f])]),
            "Div-active-denominator" => g.Node("Div", [g.Const([1, 3, 4]), positive]),
            "Sum3" => g.Node("Sum", ["a", mean, g.Node("Neg", ["a"])]),
            "Pow2" => g.Node("Pow", [positive, g.Const([], [1.5f])]),
            "Sqrt" => g.Node("Sqrt", [positive]),
            "Exp" => g.Node("Exp", ["a"]),
            "Log" => g.Node("Log", [positive]),
            "Neg" => g.Node("Neg", ["a"]),
            _ => g.Node("Reciprocal", [positive]),
        };
        g.Output(y);
        AssertNonLinear(g);
    }

    [Theory]
    [InlineData("2x2", false, false)]
    [InlineData("batched-broadcast", false, false)]
    [InlineData("vector-right", false, false)]
    [InlineData("gemm", false, false)]
    [InlineData("gemm", true, false)]
    [InlineData("gemm", false, true)]
    [InlineData("gemm", true, true)]
    public void Matrix_product_gradient_matches_finite_differences(string kind, bool transA, bool transB)
    {
        TestGraph g;
        switch (kind)
        {
            case "2x2":
                g = new TestGraph(13, 3, 4);
                g.Output(g.Node("MatMul", ["a", g.Const([4, 5])]));
                break;
            case "batched-broadcast":
                g = new TestGraph(13, 2, 1, 3, 4);
                g.Output(g.Node("MatMul", [g.Const([3, 5, 3]), "a"]));
                break;
            case "vector-right":
                g = new TestGraph(13, 2, 3, 4);
                g.Output(g.Node("MatMul", ["a", g.Const([4])]));
                break;
            default:
                g = new TestGraph(13, transA ? [4, 3] : [3, 4]);
                var w = g.Const(transB ? [5, 4] : [4, 5]);
                var squared = g.Node("Mul", ["a", "a"]);
                g.Output(g.Node("Gemm", [squared, w, g.Const([5])], A.F("alpha", 0.7f), A.F("beta", 1.3f), A.I("transA", transA ? 1 : 0), A.I("transB", transB ? 1 : 0)));
                AssertNonLinear(g);
                return;
        }

        AssertLinear(g);
    }

    [Fact]
    public void Gemm_gradient_reaches_both_matrix_inputs_and_bias()
    {
        var g = new TestGraph(13, 4, 4);
        var t = g.Node("Transpose", ["a"]);
        g.Output(g.Node("Gemm", ["a", t, g.Node("ReduceSum", ["a"], A.I("keepdims", 1))], A.I("transB", 1)));
        AssertNonLinear(g);
    }

    public static TheoryData<string> StructureCases() => new(
        "Concat-with-const", "Concat-self-slices", "Split11", "Split13-unused-output", "Slice-step2", "Slice-negative-step", "Slice-step-minus2",
        "Slice-negative-starts", "Pad-constant", "Pad-negative", "Pad-edge", "Pad-reflect", "Pad18-axes", "Reshape", "Flatten", "Transpose",
        "Squeeze-Unsqueeze11", "Squeeze-Unsqueeze13", "Expand", "Where", "ReduceSum11-keep0", "ReduceSum13", "ReduceMean-all", "GlobalAveragePool", "Cast-roundtrip");

    [Theory]
    [MemberData(nameof(StructureCases))]
    public void Structural_gradient_matches_finite_differences(string name)
    {
        var opset = name switch
        {
            "Split11" or "Squeeze-Unsqueeze11" or "ReduceSum11-keep0" => 11,
            "Pad18-axes" => 18,
            _ => 13,
        };
        var g = new TestGraph(opset, 2, 3, 6, 5);
        var y = name switch
        {
            "Concat-with-const" => g.Node("Concat", [g.Const([2, 2, 6, 5]), "a"], A.I("axis", 1)),
            "Concat-self-slices" => g.Node("Concat", ["a", g.Node("Slice", ["a", g.Ints(1), g.Ints(4), g.Ints(2)])], A.I("axis", 2)),
            "Split11" => g.Node("Add", g.Nodes("Split", ["a"], 2, A.I("axis", 2), A.Is("split", 2, 4)).Select(o => g.Node("ReduceSum", [o], A.Is("axes", 2), A.I("keepdims", 1))).ToArray()),
            "Split13-unused-output" => g.Nodes("Split", ["a", g.Ints(1, 3, 2)], 3, A.I("axis", 2))[1],
            "Slice-step2" => g.Node("Slice", ["a", g.Ints(1, 0), g.Ints(6, 5), g.Ints(2, 3), g.Ints(2, 2)]),
            "Slice-negative-step" => g.Node("Slice", ["a", g.Ints(-1), g.Ints(-100), g.Ints(3), g.Ints(-1)]),
            "Slice-step-minus2" => g.Node("Slice", ["a", g.Ints(4, 2), g.Ints(0, 0), g.Ints(2, 1), g.Ints(-2, -1)]),
            "Slice-negative-starts" => g.Node("Slice", ["a", g.Ints(-4), g.Ints(-1), g.Ints(2)]),
            "Pad-constant" => g.Node("Pad", ["a", g.Ints(0, 0, 1, 2, 0, 0, 2, 1), g.Const([], [0.5f])]),
            "Pad-negative" => g.Node("Pad", ["a", g.Ints(0, 0, -1, 2, 0, 0, 1, -2)]),
            "Pad-edge" => g.Node("Pad", ["a", g.Ints(0, 0, 2, 1, 0, 0, 3, 2)], A.S("mode", "edge")),
            "Pad-reflect" => g.Node("Pad", ["a", g.Ints(0, 0, 2, 1, 0, 0, 3, 2)], A.S("mode", "reflect")),
            "Pad18-axes" => g.Node("Pad", ["a", g.Ints(1, 2, 2, 0), string.Empty, g.Ints(3, -2)]),
            "Reshape" => g.Node("Reshape", ["a", g.Ints(0, -1, 5)]),
            "Flatten" => g.Node("Flatten", ["a"], A.I("axis", 2)),
            "Transpose" => g.Node("Transpose", ["a"], A.Is("perm", 2, 0, 3, 1)),
            "Squeeze-Unsqueeze11" => g.Node("Squeeze", [g.Node("Unsqueeze", ["a"], A.Is("axes", 0, 3))], A.Is("axes", 0)),
            "Squeeze-Unsqueeze13" => g.Node("Squeeze", [g.Node("Unsqueeze", ["a", g.Ints(0, 3)]), g.Ints(0)]),
            "Expand" => g.Node("Expand", [g.Node("ReduceMean", ["a"], A.Is("axes", 1), A.I("keepdims", 1)), g.Ints(2, 4, 6, 5)]),
            "Where" => g.Node("Where", [g.Node("Greater", [g.Const([6, 5]), g.Const([], [0f])]), "a", g.Node("Mul", ["a", g.Const([1, 3, 1, 1])])]),
            "ReduceSum11-keep0" => g.Node("ReduceSum", ["a"], A.Is("axes", 1, -1), A.I("keepdims", 0)),
            "ReduceSum13" => g.Node("ReduceSum", ["a", g.Ints(2)], A.I("keepdims", 0)),
            "ReduceMean-all" => g.Node("ReduceMean", ["a"], A.I("keepdims", 0)),
            "GlobalAveragePool" => g.Node("GlobalAveragePool", ["a"]),
            _ => g.Node("Cast", [g.Node("Mul", [g.Node("Cast", ["a"], A.I("to", 11)), g.Node("Cast", [g.Const([], [2f])], A.I("to", 11))])], A.I("to", 1)),
        };
        g.Output(y);
        AssertLinear(g);
    }

    public static TheoryData<string> PoolCases() => new(
        "max-2x2-fast", "max-2x2-floor-remainder", "max-3x3-s2-p1", "max-ceil", "max-dilated", "max-3d-fast", "max-3d-overlap", "max-1d",
        "avg-2x2", "avg-3x3-s2-p1-exclude", "avg-3x3-s2-p1-include", "avg-ceil", "avg-3d", "avg-same-upper");

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void Pooling_gradient_matches_finite_differences(string name)
    {
        var (op, shape, attrs) = name switch
        {
            "max-2x2-fast" => ("MaxPool", new long[] { 2, 2, 6, 4 }, new[] { A.Is("kernel_shape", 2, 2), A.Is("strides", 2, 2) }),
            "max-2x2-floor-remainder" => ("MaxPool", [1, 2, 7, 5], [A.Is("kernel_shape", 2, 2), A.Is("strides", 2, 2)]),
            "max-3x3-s2-p1" => ("MaxPool", [1, 2, 7, 6], [A.Is("kernel_shape", 3, 3), A.Is("strides", 2, 2), A.Is("pads", 1, 1, 1, 1)]),
            "max-ceil" => ("MaxPool", [1, 2, 7, 6], [A.Is("kernel_shape", 3, 2), A.Is("strides", 2, 2), A.I("ceil_mode", 1)]),
            "max-dilated" => ("MaxPool", [1, 1, 8, 8], [A.Is("kernel_shape", 2, 2), A.Is("dilations", 2, 2)]),
            "max-3d-fast" => ("MaxPool", [1, 2, 4, 4, 6], [A.Is("kernel_shape", 2, 2, 2), A.Is("strides", 2, 2, 2)]),
            "max-3d-overlap" => ("MaxPool", [1, 1, 5, 5, 4], [A.Is("kernel_shape", 3, 3, 3), A.Is("strides", 2, 2, 2), A.Is("pads", 1, 1, 1, 1, 1, 1)]),
            "max-1d" => ("MaxPool", [2, 2, 9], [A.Is("kernel_shape", 3), A.Is("strides", 2)]),
            "avg-2x2" => ("AveragePool", [2, 2, 6, 4], [A.Is("kernel_shape", 2, 2), A.Is("strides", 2, 2)]),
            "avg-3x3-s2-p1-exclude" => ("AveragePool", [1, 2, 7, 6], [A.Is("kernel_shape", 3, 3), A.Is("strides", 2, 2), A.Is("pads", 1, 1, 1, 1)]),
            "avg-3x3-s2-p1-include" => ("AveragePool", [1, 2, 7, 6], [A.Is("kernel_shape", 3, 3), A.Is("strides", 2, 2), A.Is("pads", 1, 1, 1, 1), A.I("count_include_pad", 1)]),
            "avg-ceil" => ("AveragePool", [1, 2, 7, 5], [A.Is("kernel_shape", 2, 2), A.Is("strides", 2, 2), A.I("ceil_mode", 1)]),
            "avg-3d" => ("AveragePool", [1, 2, 4, 5, 4], [A.Is("kernel_shape", 2, 3, 2), A.Is("strides", 2, 2, 2)]),
            _ => ("AveragePool", [1, 2, 7, 6], [A.Is("kernel_shape", 3, 3), A.Is("strides", 2, 2), A.S("auto_pad", "SAME_UPPER")]),
        };
        var g = new TestGraph(17, shape);
        g.Output(g.Node(op, ["a"], attrs));
        var count = (int)shape.Aggregate(1L, (p, d) => p * d);
        if (op == "MaxPool")
        {
            AssertNonLinear(g, input: GradientCheck.Distinct(g.Random, count));
        }
        else
        {
            AssertLinear(g);
        }
    }

    [Fact]
    public void MaxPool_ties_send_the_gradient_to_the_first_element_in_row_major_order()
    {
        foreach (var overlapping in new[] { false, true })
        {
            var g = new TestGraph(17, 1, 1, 4, 4);
            g.Output(g.Node("MaxPool", ["a"], overlapping
                ? [A.Is("kernel_shape", 3, 3), A.Is("strides", 1, 1)]
                : [A.Is("kernel_shape", 2, 2), A.Is("strides", 2, 2)]));
            var gradient = GradientCheck.Gradient(g, Enumerable.Repeat(1f, 16).ToArray(), seedValue: 1f);
            var expected = new float[16];
            if (overlapping)
            {
                // Windows start at (0,0), (0,1), (1,0), (1,1); each picks its top-left element.
                expected[0] = expected[1] = expected[4] = expected[5] = 1f;
            }
            else
            {
                expected[0] = expected[2] = expected[8] = expected[10] = 1f;
            }

            Assert.Equal(expected, gradient);
        }
    }

    public static TheoryData<string> ResizeCases() => new(
        "nearest-asymmetric-floor-up2", "nearest-half-pixel-round-prefer-ceil", "nearest-align-corners-down", "nearest-tf-half-pixel",
        "linear-half-pixel-up2", "linear-half-pixel-non-integer-sizes", "linear-pytorch-half-pixel-to-1", "linear-align-corners",
        "linear-asymmetric-down", "linear-half-pixel-symmetric", "cubic-half-pixel", "linear-3d-trilinear", "linear-opset11-sizes", "linear-opset18-axes");

    [Theory]
    [MemberData(nameof(ResizeCases))]
    public void Resize_gradient_matches_finite_differences(string name)
    {
        var opset = name switch { "linear-opset11-sizes" => 11, "linear-opset18-axes" => 18, "linear-half-pixel-symmetric" => 19, _ => 13 };
        var g = new TestGraph(opset, name.Contains("3d", StringComparison.Ordinal) ? [1, 2, 3, 4, 3] : [2, 2, 5, 4]);
        string Scales(params float[] s) => g.Const([s.Length], s);
        var empty = opset >= 13 ? string.Empty : g.Const([0], []);
        var y = name switch
        {
            "nearest-asymmetric-floor-up2" => g.Node("Resize", ["a", string.Empty, Scales(1, 1, 2, 2)], A.S("mode", "nearest"), A.S("coordinate_transformation_mode", "asymmetric"), A.S("nearest_mode", "floor")),
            "nearest-half-pixel-round-prefer-ceil" => g.Node("Resize", ["a", string.Empty, Scales(1, 1, 1.7f, 2.5f)], A.S("mode", "nearest"), A.S("nearest_mode", "round_prefer_ceil")),
            "nearest-align-corners-down" => g.Node("Resize", ["a", string.Empty, string.Empty, g.Ints(2, 2, 3, 3)], A.S("mode", "nearest"), A.S("coordinate_transformation_mode", "align_corners")),
            "nearest-tf-half-pixel" => g.Node("Resize", ["a", string.Empty, Scales(1, 1, 2, 1.5f)], A.S("mode", "nearest"), A.S("coordinate_transformation_mode", "tf_half_pixel_for_nn")),
            "linear-half-pixel-up2" => g.Node("Resize", ["a", string.Empty, Scales(1, 1, 2, 2)], A.S("mode", "linear")),
            "linear-half-pixel-non-integer-sizes" => g.Node("Resize", ["a", string.Empty, string.Empty, g.Ints(2, 2, 8, 7)], A.S("mode", "linear")),
            "linear-pytorch-half-pixel-to-1" => g.Node("Resize", ["a", string.Empty, string.Empty, g.Ints(2, 2, 1, 9)], A.S("mode", "linear"), A.S("coordinate_transformation_mode", "pytorch_half_pixel")),
            "linear-align-corners" => g.Node("Resize", ["a", string.Empty, string.Empty, g.Ints(2, 2, 9, 7)], A.S("mode", "linear"), A.S("coordinate_transformation_mode", "align_corners")),
            "linear-asymmetric-down" => g.Node("Resize", ["a", string.Empty, Scales(1, 1, 0.6f, 0.5f)], A.S("mode", "linear"), A.S("coordinate_transformation_mode", "asymmetric")),
            "linear-half-pixel-symmetric" => g.Node("Resize", ["a", string.Empty, Scales(1, 1, 1.5f, 2.25f)], A.S("mode", "linear"), A.S("coordinate_transformation_mode", "half_pixel_symmetric")),
            "cubic-half-pixel" => g.Node("Resize", ["a", string.Empty, Scales(1, 1, 2, 1.5f)], A.S("mode", "cubic")),
            "linear-3d-trilinear" => g.Node("Resize", ["a", string.Empty, Scales(1, 1, 2, 1.5f, 2)], A.S("mode", "linear")),
            "linear-opset11-sizes" => g.Node("Resize", ["a", empty, empty, g.Ints(2, 2, 9, 8)], A.S("mode", "linear")),
            _ => g.Node("Resize", ["a", string.Empty, Scales(2, 1.5f)], A.S("mode", "linear"), A.Is("axes", 2, 3)),
        };
        g.Output(y);
        AssertLinear(g);
    }

    [Fact]
    public void A_chain_with_fan_out_and_skip_connection_sums_partials()
    {
        var g = new TestGraph(17, 1, 2, 6, 6);
        var conv = g.Node("Conv", ["a", g.Const([2, 2, 3, 3], scale: 0.5)], A.Is("pads", 1, 1, 1, 1));
        var act = g.Node("Tanh", [conv]);
        var pooled = g.Node("AveragePool", [act], A.Is("kernel_shape", 2, 2), A.Is("strides", 2, 2));
        var up = g.Node("Resize", [pooled, string.Empty, g.Const([4], [1, 1, 2, 2])], A.S("mode", "nearest"));
        var skip = g.Node("Concat", [up, "a", act], A.I("axis", 1));
        g.Output(g.Node("Conv", [skip, g.Const([3, 6, 1, 1])]));
        AssertNonLinear(g, input: GradientCheck.Distinct(g.Random, 72));
    }
}
