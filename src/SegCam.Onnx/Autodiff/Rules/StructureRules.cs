namespace SegCam.Onnx.Autodiff.Rules;

/// <summary>Shape, layout, selection and reduction operators (AUTODIFF.md 2.4, 2.5).</summary>
internal static class StructureRules
{
    public static IEnumerable<GradientRule> All()
    {
        foreach (var op in new[] { "Reshape", "Flatten", "Squeeze", "Unsqueeze" })
        {
            yield return GradientRule.Unary(op, c => c.SetGrad(0, c.B.Reshape(c.Dy, c.Shape(c.X()), c.Hint)));
        }

        yield return GradientRule.Unary("Transpose", c =>
        {
            var rank = c.Rank(c.X());
            var perm = c.Ints("perm") ?? Enumerable.Range(0, rank).Reverse().Select(i => (long)i).ToArray();
            var inverse = new long[rank];
            for (var i = 0; i < rank; i++)
            {
                inverse[perm[i]] = i;
            }

            c.SetGrad(0, c.B.Transpose(c.Dy, inverse, c.Hint));
        });

        yield return GradientRule.Unary("Expand", c => c.SetGrad(0, c.Unbroadcast(c.Dy, c.Shape(c.Y()), c.Shape(c.X()))));

        yield return GradientRule.AllInputs("Concat", c =>
        {
            var rank = c.Rank(c.Y());
            var axis = RuleContext.Axis(c.Int("axis", 0), rank);
            long offset = 0;
            for (var i = 0; i < c.Node.Input.Count; i++)
            {
                var length = c.Shape(c.X(i))[axis];
                if (c.IsActive(i))
                {
                    c.SetGrad(i, c.B.Slice(c.Dy, [offset], [offset + length], [axis], hint: c.Hint));
                }

                offset += length;
            }
        });

        yield return GradientRule.Unary("Split", c =>
        {
            var rank = c.Rank(c.X());
            var axis = RuleContext.Axis(c.Int("axis", 0), rank);
            var parts = new List<string>();
            for (var i = 0; i < c.Node.Output.Count; i++)
            {
                parts.Add(c.OutputGrad(i) ?? c.B.Zeros(c.Shape(c.Y(i)), c.Hint + "/zeros"));
            }

            c.SetGrad(0, parts.Count == 1 ? parts[0] : c.B.Op("Concat", c.Hint, parts, Graph.Attr.Int("axis", axis)));
        });

        yield return new GradientRule("Where", static (_, s) => s is 1 or 2, c =>
        {
            var yShape = c.Shape(c.Y());
            if (c.IsActive(1))
            {
                c.SetGrad(1, c.Unbroadcast(c.B.Where(c.X(0), c.Dy, c.Scalar(0), c.Hint), yShape, c.Shape(c.X(1))));
            }

            if (c.IsActive(2))
            {
                c.SetGrad(2, c.Unbroadcast(c.B.Where(c.X(0), c.Scalar(0), c.Dy, c.Hint), yShape, c.Shape(c.X(2))));
            }
        });

        yield return GradientRule.Unary("ReduceSum", c => Reduce(c, mean: false, axesInputSince: 13));
        yield return GradientRule.Unary("ReduceMean", c => Reduce(c, mean: true, axesInputSince: 18));
        yield return GradientRule.Unary("GlobalAveragePool", c =>
        {
            var shape = c.Shape(c.X());
            var count = shape.Skip(2).Aggregate(1L, (a, d) => a * d);
            c.SetGrad(0, c.B.Expand(c.B.Div(c.Dy, c.Scalar(count), c.Hint), shape, c.Hint));
        });

        yield return GradientRule.Unary("Softmax", c =>
        {
            var axes = SoftmaxAxes(c);
            var dot = c.B.ReduceSum(c.B.Mul(c.Dy, c.Y(), c.Hint), axes, keepDims: true, c.Hint);
            c.SetGrad(0, c.B.Mul(c.Y(), c.B.Sub(c.Dy, dot, c.Hint), c.Hint));
        });

        yield return GradientRule.Unary("LogSoftmax", c =>
        {
            var axes = SoftmaxAxes(c);
            var total = c.B.ReduceSum(c.Dy, axes, keepDims: true, c.Hint);
            c.SetGrad(0, c.B.Sub(c.Dy, c.B.Mul(c.B.Op("Exp", c.Hint, [c.Y()]), total, c.Hint), c.Hint));
        });

        yield return GradientRule.Unary("Slice", SliceRule.Backward);
        yield return GradientRule.Unary("Pad", PadRule.Backward);
    }

    /// <summary>Softmax reduces over [axis] from opset 13; before, the input is coerced to 2-D at axis (default 1).</summary>
    private static long[] SoftmaxAxes(RuleContext c)
    {
        var rank = c.Rank(c.X());
        if (c.B.Opset >= 13)
        {
            return [RuleContext.Axis(c.Int("axis", -1), rank)];
        }

        var axis = RuleContext.Axis(c.Int("axis", 1), rank);
        return Enumerable.Range((int)axis, rank - (int)axis).Select(i => (long)i).ToArray();
    }

    private static void Reduce(RuleContext c, bool mean, int axesInputSince)
    {
        var xShape = c.Shape(c.X());
        var rank = xShape.Length;
        long[]? axes = c.B.Opset >= axesInputSince
            ? (c.HasInput(1) ? c.ConstantInts(1) : null)
            : c.Ints("axes");
        var keep = c.Int("keepdims", 1) != 0;
        if (axes is null || axes.Length == 0)
        {
            if (c.Int("noop_with_empty_axes", 0) != 0)
            {
                c.SetGrad(0, c.Dy);
                return;
            }

            axes = Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
        }

        axes = axes.Select(a => RuleContext.Axis(a, rank)).OrderBy(a => a).ToArray();
        var dy = c.Dy;
        if (!keep)
        {
            var kept = xShape.Select((d, i) => axes.Contains(i) ? 1L : d).ToArray();
            dy = c.B.Reshape(dy, kept, c.Hint);
        }

        if (mean)
        {
            var count = axes.Aggregate(1L, (a, i) => a * xShape[i]);
            dy = c.B.Div(dy, c.Scalar(count), c.Hint);
        }

        c.SetGrad(0, c.B.Expand(dy, xShape, c.Hint));
    }
}
