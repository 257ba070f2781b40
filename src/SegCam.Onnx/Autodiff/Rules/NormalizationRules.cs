namespace SegCam.Onnx.Autodiff.Rules;

/// <summary>Inference-time normalisation layers (AUTODIFF.md 2.2).</summary>
internal static class NormalizationRules
{
    public static IEnumerable<GradientRule> All()
    {
        yield return GradientRule.Unary("BatchNormalization", BatchNorm);
        yield return GradientRule.Unary("InstanceNormalization", c =>
        {
            var xShape = c.Shape(c.X());
            var axes = Enumerable.Range(2, xShape.Length - 2).Select(i => (long)i).ToArray();
            var gamma = c.B.Reshape(c.X(1), ChannelShape(xShape), c.Hint);
            var gd = c.B.Mul(c.Dy, gamma, c.Hint);
            c.SetGrad(0, Standardised(c, c.X(), gd, axes, c.Float("epsilon", 1e-5f)));
        });
        yield return GradientRule.Unary("LayerNormalization", c =>
        {
            if (c.Node.Output.Skip(1).Any(o => o.Length > 0 && c.OutputGrad(c.Node.Output.IndexOf(o)) is not null))
            {
                throw c.Refuse("gradients through LayerNormalization's Mean/InvStdDev outputs are not supported");
            }

            var xShape = c.Shape(c.X());
            var axis = RuleContext.Axis(c.Int("axis", -1), xShape.Length);
            var axes = Enumerable.Range((int)axis, xShape.Length - (int)axis).Select(i => (long)i).ToArray();
            var gd = c.B.Mul(c.Dy, c.X(1), c.Hint);
            c.SetGrad(0, Standardised(c, c.X(), gd, axes, c.Float("epsilon", 1e-5f)));
        });
        yield return GradientRule.Unary("GroupNormalization", GroupNorm);
    }

    /// <summary>Shape [C,1,…] that broadcasts a per-channel vector against an N,C,spatial tensor.</summary>
    private static long[] ChannelShape(long[] xShape) => [xShape[1], .. Enumerable.Repeat(1L, xShape.Length - 2)];

    private static void BatchNorm(RuleContext c)
    {
        if (c.Int("training_mode", 0) != 0)
        {
            throw c.Refuse("BatchNormalization in training mode is not supported; export the model in eval mode");
        }

        if (c.Node.Output.Count > 1 && c.Node.Output.Skip(1).Any(o => o.Length > 0))
        {
            throw c.Refuse("BatchNormalization with running-statistics outputs (training mode) is not supported");
        }

        // dX = dY * scale / sqrt(var + eps), folded in double precision into one initializer.
        var scale = c.Constant(1);
        var variance = c.Constant(4);
        var eps = (double)c.Float("epsilon", 1e-5f);
        var k = new double[scale.Length];
        for (var i = 0; i < k.Length; i++)
        {
            k[i] = scale[i] / Math.Sqrt(variance[i] + eps);
        }

        var xShape = c.Shape(c.X());
        var scaleShape = c.Shape(c.X(1));
        long[] dims = scaleShape.Length == 1 ? ChannelShape(xShape) : scaleShape;
        var factor = c.B.Floats(k, dims, c.Hint + "/k");
        c.SetGrad(0, c.B.Mul(c.Dy, factor, c.Hint));
    }

    private static void GroupNorm(RuleContext c)
    {
        var xShape = c.Shape(c.X());
        var groups = c.Int("num_groups", 1);
        var channels = xShape[1];
        var spatial = xShape.Skip(2).Aggregate(1L, (a, d) => a * d);
        var scaleLength = c.Shape(c.X(1))[0];
        string gammaC;
        if (scaleLength == channels)
        {
            gammaC = c.B.Reshape(c.X(1), ChannelShape(xShape), c.Hint);
        }
        else
        {
            // Opset 18: one scale per group, shared by the group's channels.
            var perGroup = c.B.Reshape(c.X(1), [groups, 1], c.Hint);
            var expanded = c.B.Expand(perGroup, [groups, channels / groups], c.Hint);
            gammaC = c.B.Reshape(expanded, ChannelShape(xShape), c.Hint);
        }

        var grouped = new[] { xShape[0], groups, (channels / groups) * spatial };
        var gd = c.B.Reshape(c.B.Mul(c.Dy, gammaC, c.Hint), grouped, c.Hint);
        var xg = c.B.Reshape(c.X(), grouped, c.Hint);
        var dx = Standardised(c, xg, gd, [2], c.Float("epsilon", 1e-5f));
        c.SetGrad(0, c.B.Reshape(dx, xShape, c.Hint));
    }

    /// <summary>
    /// Gradient of x̂ = (x − mean)/sqrt(var + eps) over <paramref name="axes"/> given gd = dY·γ:
    /// ρ·(gd − mean(gd) − x̂·mean(gd·x̂)).
    /// </summary>
    private static string Standardised(RuleContext c, string x, string gd, long[] axes, float epsilon)
    {
        var b = c.B;
        var h = c.Hint;
        var mean = b.ReduceMean(x, axes, keepDims: true, h);
        var centred = b.Sub(x, mean, h);
        var variance = b.ReduceMean(b.Mul(centred, centred, h), axes, keepDims: true, h);
        var rho = b.Op("Reciprocal", h, [b.Op("Sqrt", h, [b.Add(variance, c.Scalar(epsilon), h)])]);
        var xhat = b.Mul(centred, rho, h);
        var meanGd = b.ReduceMean(gd, axes, keepDims: true, h);
        var meanGdX = b.ReduceMean(b.Mul(gd, xhat, h), axes, keepDims: true, h);
        var inner = b.Sub(b.Sub(gd, meanGd, h), b.Mul(xhat, meanGdX, h), h);
        return b.Mul(rho, inner, h);
    }
}
