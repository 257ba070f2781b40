namespace SegCam.Onnx.Autodiff.Rules;

/// <summary>Broadcasting arithmetic and unary math (AUTODIFF.md 2.5).</summary>
internal static class ArithmeticRules
{
    public static IEnumerable<GradientRule> All()
    {
        yield return GradientRule.AllInputs("Add", c =>
        {
            c.SetGrad(0, c.Unbroadcast(c.Dy, c.Shape(c.Y()), c.Shape(c.X(0))));
            c.SetGrad(1, c.Unbroadcast(c.Dy, c.Shape(c.Y()), c.Shape(c.X(1))));
        });

        yield return GradientRule.AllInputs("Sub", c =>
        {
            c.SetGrad(0, c.Unbroadcast(c.Dy, c.Shape(c.Y()), c.Shape(c.X(0))));
            if (c.IsActive(1))
            {
                c.SetGrad(1, c.Unbroadcast(c.B.Neg(c.Dy, c.Hint), c.Shape(c.Y()), c.Shape(c.X(1))));
            }
        });

        yield return GradientRule.AllInputs("Sum", c =>
        {
            for (var i = 0; i < c.Node.Input.Count; i++)
            {
                c.SetGrad(i, c.Unbroadcast(c.Dy, c.Shape(c.Y()), c.Shape(c.X(i))));
            }
        });

        yield return GradientRule.AllInputs("Mul", c =>
        {
            if (c.IsActive(0))
            {
                c.SetGrad(0, c.Unbroadcast(c.B.Mul(c.Dy, c.X(1), c.Hint), c.Shape(c.Y()), c.Shape(c.X(0))));
            }

            if (c.IsActive(1))
            {
                c.SetGrad(1, c.Unbroadcast(c.B.Mul(c.Dy, c.X(0), c.Hint), c.Shape(c.Y()), c.Shape(c.X(1))));
            }
        });

        yield return GradientRule.AllInputs("Div", c =>
        {
            if (c.IsActive(0))
            {
                c.SetGrad(0, c.Unbroadcast(c.B.Div(c.Dy, c.X(1), c.Hint), c.Shape(c.Y()), c.Shape(c.X(0))));
            }

            if (c.IsActive(1))
            {
                var g = c.B.Neg(c.B.Div(c.B.Mul(c.Dy, c.Y(), c.Hint), c.X(1), c.Hint), c.Hint);
                c.SetGrad(1, c.Unbroadcast(g, c.Shape(c.Y()), c.Shape(c.X(1))));
            }
        });

        yield return new GradientRule("Pow", static (_, s) => s == 0, c =>
        {
            // d/dx x^p = p x^(p-1), with the exponent a constant of the forward graph.
            var pMinus1 = c.B.Sub(c.X(1), c.B.Cast(c.Scalar(1), c.Info(c.X(1)).ElemType, c.Hint), c.Hint);
            var power = c.B.Op("Pow", c.Hint, [c.X(0), pMinus1]);
            var p = c.Info(c.X(1)).ElemType == c.Info(c.X(0)).ElemType ? c.X(1) : c.B.Cast(c.X(1), c.Info(c.X(0)).ElemType, c.Hint);
            var g = c.B.Mul(c.Dy, c.B.Mul(power, p, c.Hint), c.Hint);
            c.SetGrad(0, c.Unbroadcast(g, c.Shape(c.Y()), c.Shape(c.X(0))));
        });

        yield return GradientRule.Unary("Sqrt", c => c.SetGrad(0, c.B.Div(c.B.Mul(c.Dy, c.Scalar(0.5), c.Hint), c.Y(), c.Hint)));
        yield return GradientRule.Unary("Exp", c => c.SetGrad(0, c.B.Mul(c.Dy, c.Y(), c.Hint)));
        yield return GradientRule.Unary("Log", c => c.SetGrad(0, c.B.Div(c.Dy, c.X(), c.Hint)));
        yield return GradientRule.Unary("Neg", c => c.SetGrad(0, c.B.Neg(c.Dy, c.Hint)));
        yield return GradientRule.Unary("Reciprocal", c =>
            c.SetGrad(0, c.B.Neg(c.B.Mul(c.Dy, c.B.Mul(c.Y(), c.Y(), c.Hint), c.Hint), c.Hint)));
        yield return GradientRule.Unary("Abs", c =>
            c.SetGrad(0, c.B.Mul(c.Dy, c.B.Op("Sign", c.Hint, [c.X()]), c.Hint)));

        yield return GradientRule.AllInputs("MatMul", MatMul);
        yield return new GradientRule("Gemm", static (_, s) => s <= 2, Gemm);
    }

    private static void MatMul(RuleContext c)
    {
        var aShape = c.Shape(c.X(0));
        var bShape = c.Shape(c.X(1));
        var yShape = c.Shape(c.Y());
        if (aShape.Length < 1 || bShape.Length < 1)
        {
            throw c.Refuse("scalar operands are not valid for MatMul");
        }

        // Promote 1-D operands to matrices as numpy does, so both gradients are plain batched MatMuls.
        var a = aShape.Length == 1 ? c.B.Unsqueeze(c.X(0), [0], c.Hint) : c.X(0);
        var b = bShape.Length == 1 ? c.B.Unsqueeze(c.X(1), [1], c.Hint) : c.X(1);
        var a2 = aShape.Length == 1 ? new[] { 1L, aShape[0] } : aShape;
        var b2 = bShape.Length == 1 ? new[] { bShape[0], 1L } : bShape;
        var y2 = PromotedResultShape(a2, b2);
        var dy = yShape.SequenceEqual(y2) ? c.Dy : c.B.Reshape(c.Dy, y2, c.Hint);

        if (c.IsActive(0))
        {
            var bt = c.B.Transpose(b, SwapLast(b2.Length), c.Hint);
            var da = c.B.Op("MatMul", c.Hint, [dy, bt]);
            var reduced = c.Unbroadcast(da, Broadcast(y2, b2, true), a2);
            c.SetGrad(0, c.B.Reshape(reduced, aShape, c.Hint));
        }

        if (c.IsActive(1))
        {
            var at = c.B.Transpose(a, SwapLast(a2.Length), c.Hint);
            var db = c.B.Op("MatMul", c.Hint, [at, dy]);
            var reduced = c.Unbroadcast(db, Broadcast(y2, a2, false), b2);
            c.SetGrad(1, c.B.Reshape(reduced, bShape, c.Hint));
        }
    }

    private static long[] SwapLast(int rank)
    {
        var perm = Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
        (perm[rank - 1], perm[rank - 2]) = (perm[rank - 2], perm[rank - 1]);
        return perm;
    }

    private static long[] PromotedResultShape(long[] a, long[] b)
    {
        var batch = BroadcastShapes(a[..^2], b[..^2]);
        return [.. batch, a[^2], b[^1]];
    }

    // Shape of dA = dY·Bᵀ (forA) or dB = Aᵀ·dY before un-broadcasting.
    private static long[] Broadcast(long[] y, long[] other, bool forA)
    {
        var batch = BroadcastShapes(y[..^2], other[..^2]);
        return forA ? [.. batch, y[^2], other[^2]] : [.. batch, other[^1], y[^1]];
    }

    private static long[] BroadcastShapes(long[] a, long[] b)
    {
        var rank = Math.Max(a.Length, b.Length);
        var result = new long[rank];
        for (var i = 0; i < rank; i++)
        {
            var da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            var db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            result[i] = Math.Max(da, db);
        }

        return result;
    }

    private static void Gemm(RuleContext c)
    {
        var alpha = c.Float("alpha", 1f);
        var beta = c.Float("beta", 1f);
        var transA = c.Int("transA", 0) != 0;
        var transB = c.Int("transB", 0) != 0;
        var a = c.X(0);
        var b = c.X(1);
        var dy = c.Dy;
        var zeroC = c.Scalar(0);

        string G(string p, string q, bool tp, bool tq) =>
            c.B.Op("Gemm", c.Hint, c.B.Opset >= 11 ? [p, q] : [p, q, zeroC],
                Attr(alpha, tp, tq));

        if (c.IsActive(0))
        {
            var da = (transA, transB) switch
            {
                (false, false) => G(dy, b, false, true),
                (false, true) => G(dy, b, false, false),
                (true, false) => G(b, dy, false, true),
                (true, true) => G(b, dy, true, true),
            };
            c.SetGrad(0, da);
        }

        if (c.IsActive(1))
        {
            var db = (transA, transB) switch
            {
                (false, false) => G(a, dy, true, false),
                (false, true) => G(dy, a, true, false),
                (true, false) => G(a, dy, false, false),
                (true, true) => G(dy, a, true, true),
            };
            c.SetGrad(1, db);
        }

        if (c.IsActive(2))
        {
            var scaled = beta == 1f ? dy : c.B.Mul(dy, c.Scalar(beta), c.Hint);
            c.SetGrad(2, c.Unbroadcast(scaled, c.Shape(c.Y()), c.Shape(c.X(2))));
        }
    }

    private static Protocol.AttributeProto[] Attr(float alpha, bool transA, bool transB) =>
    [
        Graph.Attr.Float("alpha", alpha),
        Graph.Attr.Float("beta", 0f),
        Graph.Attr.Int("transA", transA ? 1 : 0),
        Graph.Attr.Int("transB", transB ? 1 : 0),
    ];
}
