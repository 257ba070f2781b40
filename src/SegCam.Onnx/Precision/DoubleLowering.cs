using SegCam.Onnx.Autodiff;
using SegCam.Onnx.Autodiff.Rules;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Precision;

/// <summary>
/// Replacements, in ops that ONNX Runtime's CPU provider runs in float64, for the operators it runs in float32 only
/// (measured on ORT 1.31: Conv, ConvTranspose, InstanceNormalization, GroupNormalization, AveragePool,
/// GlobalAveragePool, Resize, Elu, Selu, HardSigmoid, HardSwish, Erf, Gelu, and LeakyRelu/PRelu/Clip before
/// opsets 16/16/12). Each returns the name of the tensor that replaces the node's output 0.
/// </summary>
internal static class DoubleLowering
{
    private static readonly HashSet<string> Lowered =
    [
        "Conv", "ConvTranspose", "InstanceNormalization", "GroupNormalization", "AveragePool", "GlobalAveragePool", "Resize",
        "Elu", "Selu", "HardSigmoid", "HardSwish", "Erf", "Gelu", "LeakyRelu", "PRelu", "Clip",
    ];

    /// <summary>True when <paramref name="opType"/> (default domain) is rewritten for float64.</summary>
    public static bool Handles(string opType) => Lowered.Contains(opType);

    /// <summary>Emits the float64 replacement of <c>c.Node</c>.</summary>
    /// <param name="c">The node, its probed tensors and the emitter.</param>
    /// <param name="producer">The node producing a tensor (null for inputs and initializers).</param>
    public static string Lower(RuleContext c, Func<string, NodeProto?> producer)
    {
        var node = c.Node;
        var x = c.X();
        return node.OpType switch
        {
            "Conv" => WindowLowering.Conv(c, x, c.X(1), c.HasInput(2) ? c.X(2) : null, c.Shape(x), c.Shape(c.X(1)), c.Shape(c.Y()),
                ConvRules.Resolve(c, c.Shape(c.X(1))[2..], c.Shape(x)[2..], c.Shape(c.Y())[2..]), c.Int("group", 1)),
            "ConvTranspose" => WindowLowering.ConvTranspose(c, x, c.X(1), c.HasInput(2) ? c.X(2) : null, c.Shape(x), c.Shape(c.X(1)), c.Shape(c.Y()), c.Int("group", 1)),
            "AveragePool" => WindowLowering.AveragePool(c, x, c.Shape(x), c.Shape(c.Y())),
            "GlobalAveragePool" => c.B.ReduceMean(x, SpatialAxes(c.Rank(x)), keepDims: true, c.Hint),
            "InstanceNormalization" => InstanceNorm(c),
            "GroupNormalization" => GroupNorm(c),
            "Resize" => Resize(c),
            "Elu" => Elu(c, x, c.Float("alpha", 1f)),
            "Selu" => c.B.Mul(Elu(c, x, c.Float("alpha", 1.67326319217681884765625f)), c.Scalar(c.Float("gamma", 1.05070102214813232421875f)), c.Hint),
            "HardSigmoid" => HardSigmoid(c, x, c.Float("alpha", 0.2f), c.Float("beta", 0.5f)),
            "HardSwish" => c.B.Mul(x, HardSigmoid(c, x, 1.0 / 6, 0.5), c.Hint),
            "LeakyRelu" => Negative(c, x, c.B.Mul(x, c.Scalar(c.Float("alpha", 0.01f)), c.Hint)),
            "PRelu" => Negative(c, x, c.B.Mul(x, c.X(1), c.Hint)),
            "Clip" => Clip(c, x),
            "Erf" => Erf(c, GeluArgument(c, producer) ?? x),
            "Gelu" => Gelu(c, x),
            _ => throw new InvalidOperationException($"no float64 lowering for {node.OpType}"),
        };
    }

    private static long[] SpatialAxes(int rank) => Enumerable.Range(2, rank - 2).Select(i => (long)i).ToArray();

    // Where(x < 0, negative, x): LeakyRelu and PRelu keep x at 0 and above.
    private static string Negative(RuleContext c, string x, string negative)
        => c.B.Where(c.B.Less(x, c.Scalar(0), c.Hint), negative, x, c.Hint);

    private static string Elu(RuleContext c, string x, double alpha)
    {
        var b = c.B;
        var expm1 = b.Sub(b.Op("Exp", c.Hint, [b.Op("Min", c.Hint, [x, c.Scalar(0)])]), c.Scalar(1), c.Hint);
        return b.Where(b.Greater(x, c.Scalar(0), c.Hint), x, b.Mul(expm1, c.Scalar(alpha), c.Hint), c.Hint);
    }

    private static string HardSigmoid(RuleContext c, string x, double alpha, double beta)
    {
        var b = c.B;
        var linear = b.Add(b.Mul(x, c.Scalar(alpha), c.Hint), c.Scalar(beta), c.Hint);
        return b.Op("Max", c.Hint, [b.Op("Min", c.Hint, [linear, c.Scalar(1)]), c.Scalar(0)]);
    }

    private static string Clip(RuleContext c, string x)
    {
        var b = c.B;
        // Opset 11 on (the engine's minimum): bounds are inputs 1 and 2.
        var min = c.HasInput(1) ? c.X(1) : null;
        var max = c.HasInput(2) ? c.X(2) : null;
        var y = x;
        if (min is not null)
        {
            y = b.Op("Max", c.Hint, [y, min]);
        }

        if (max is not null)
        {
            y = b.Op("Min", c.Hint, [y, max]);
        }

        return b.Op("Identity", c.Hint, [y]);
    }

    /// <summary>Terms of the Erf series: enough for |x| ≤ 5 to double precision; beyond, |erf| = 1 within 1.6e-12.</summary>
    private const int ErfTerms = 80;

    // ORT has no float64 Erf. erf(x) = 2/√π · x · e^(−x²) · Σ_n (2x²)^n / (1·3·…·(2n+1)): every term is positive, so
    // Horner's rule keeps double precision (no cancellation), evaluated on x clamped to [−5, 5]. The polynomial runs in
    // u = x²/25 ∈ [0, 1] so that no coefficient is below float32's range: ORT's optimiser drops an Add whose constant
    // rounds to float32 zero, even in a float64 graph.
    private static string Erf(RuleContext c, string x)
    {
        var b = c.B;
        var xc = b.Op("Min", c.Hint, [b.Op("Max", c.Hint, [x, c.Scalar(-5)]), c.Scalar(5)]);
        var t = b.Mul(xc, xc, c.Hint);
        var u = b.Mul(t, c.Scalar(1.0 / 25), c.Hint);
        var coefficients = new double[ErfTerms + 1];
        coefficients[0] = 1;
        for (var n = 1; n <= ErfTerms; n++)
        {
            coefficients[n] = coefficients[n - 1] * 2 * 25 / ((2 * n) + 1);
        }

        var sum = c.Scalar(coefficients[ErfTerms]);
        for (var n = ErfTerms - 1; n >= 0; n--)
        {
            sum = b.Add(b.Mul(sum, u, c.Hint), c.Scalar(coefficients[n]), c.Hint);
        }

        var damped = b.Mul(b.Op("Exp", c.Hint, [b.Neg(t, c.Hint)]), sum, c.Hint);
        return b.Mul(b.Mul(xc, damped, c.Hint), c.Scalar(2 / Math.Sqrt(Math.PI)), c.Hint);
    }

    /// <summary>
    /// GELU exported at opsets before 20 is x·½·(1 + erf(x / √2)) with √2 (or 1/√2) rounded to float32; the model in
    /// double means the exact constant (a relative change of 1.7e-8 that Grad-CAM++'s cancellation can amplify past 1e-4).
    /// Returns the Erf argument rebuilt with the exact constant, or null when the Erf input is not such a scaling.
    /// </summary>
    private static string? GeluArgument(RuleContext c, Func<string, NodeProto?> producer)
    {
        if (producer(c.X()) is not { OpType: "Div" or "Mul" } scale || scale.Input.Count != 2
            || !c.TryInfo(scale.Input[1], out var constant) || constant.Values is not [var value])
        {
            return null;
        }

        var exact = scale.OpType == "Div" ? Math.Sqrt(2) : 1 / Math.Sqrt(2);
        return (float)exact == (float)value ? c.B.Op(scale.OpType, c.Hint, [scale.Input[0], c.Scalar(exact)]) : null;
    }

    private static string Gelu(RuleContext c, string x)
    {
        var b = c.B;
        if (c.Str("approximate", "none") == "tanh")
        {
            var cube = b.Mul(b.Mul(x, x, c.Hint), x, c.Hint);
            var inner = b.Mul(b.Add(x, b.Mul(cube, c.Scalar(0.044715), c.Hint), c.Hint), c.Scalar(Math.Sqrt(2 / Math.PI)), c.Hint);
            var t = b.Add(b.Op("Tanh", c.Hint, [inner]), c.Scalar(1), c.Hint);
            return b.Mul(b.Mul(x, t, c.Hint), c.Scalar(0.5), c.Hint);
        }

        var erf = Erf(c, b.Mul(x, c.Scalar(1 / Math.Sqrt(2)), c.Hint));
        return b.Mul(b.Mul(x, b.Add(erf, c.Scalar(1), c.Hint), c.Hint), c.Scalar(0.5), c.Hint);
    }

    // (x − mean) / sqrt(var + eps) over the given axes, variance biased, as every normalisation op defines it.
    private static string Standardise(RuleContext c, string x, long[] axes, double epsilon)
    {
        var b = c.B;
        var mean = b.ReduceMean(x, axes, keepDims: true, c.Hint);
        var centred = b.Sub(x, mean, c.Hint);
        var variance = b.ReduceMean(b.Mul(centred, centred, c.Hint), axes, keepDims: true, c.Hint);
        return b.Div(centred, b.Op("Sqrt", c.Hint, [b.Add(variance, c.Scalar(epsilon), c.Hint)]), c.Hint);
    }

    private static string InstanceNorm(RuleContext c)
    {
        var b = c.B;
        var shape = c.Shape(c.X());
        long[] channel = [shape[1], .. Enumerable.Repeat(1L, shape.Length - 2)];
        var y = Standardise(c, c.X(), SpatialAxes(shape.Length), c.Float("epsilon", 1e-5f));
        return b.Add(b.Mul(y, b.Reshape(c.X(1), channel, c.Hint), c.Hint), b.Reshape(c.X(2), channel, c.Hint), c.Hint);
    }

    private static string GroupNorm(RuleContext c)
    {
        var b = c.B;
        var shape = c.Shape(c.X());
        var groups = c.Int("num_groups", 1);
        var channels = shape[1];
        long[] grouped = [shape[0], groups, -1];
        var y = Standardise(c, b.Reshape(c.X(), grouped, c.Hint), [2], c.Float("epsilon", 1e-5f));
        if (c.Shape(c.X(1))[0] != channels)
        {
            // Opset 18: one scale and bias per group.
            y = b.Add(b.Mul(y, b.Reshape(c.X(1), [groups, 1], c.Hint), c.Hint), b.Reshape(c.X(2), [groups, 1], c.Hint), c.Hint);
            return b.Reshape(y, shape, c.Hint);
        }

        long[] channel = [channels, .. Enumerable.Repeat(1L, shape.Length - 2)];
        y = b.Reshape(y, shape, c.Hint);
        return b.Add(b.Mul(y, b.Reshape(c.X(1), channel, c.Hint), c.Hint), b.Reshape(c.X(2), channel, c.Hint), c.Hint);
    }

    // Resize is separable: apply each axis' measured weight matrix W_a in turn (the same matrices the backward uses).
    private static string Resize(RuleContext c)
    {
        if (ResizeRule.Unsupported(c) is { } why)
        {
            throw new Common.Errors.UnsupportedOperatorException($"float64 precision: node '{c.Node.Name}' (Resize): {why}; use float32 precision");
        }

        var xShape = c.Shape(c.X());
        var yShape = c.Shape(c.Y());
        var rank = xShape.Length;
        var scales = ResizeRule.FullScales(c, rank);
        var y = c.X();
        var shape = (long[])xShape.Clone();
        for (var axis = 0; axis < rank; axis++)
        {
            if (xShape[axis] == yShape[axis])
            {
                continue;
            }

            var weights = ResizeRule.ProbeWeights(c, xShape[axis], yShape[axis], axis, rank, scales?[axis]);
            y = ResizeRule.ApplyForward(c, y, shape, axis, weights, xShape[axis], yShape[axis]);
            shape[axis] = yShape[axis];
        }

        return y == c.X() ? c.B.Op("Identity", c.Hint, [y]) : y;
    }
}
