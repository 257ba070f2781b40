namespace SegCam.Onnx.Autodiff.Rules;

/// <summary>Pad backward for constant, edge and reflect modes, one axis at a time (AUTODIFF.md 2.5).</summary>
internal static class PadRule
{
    public static void Backward(RuleContext c)
    {
        var xShape = c.Shape(c.X());
        var rank = xShape.Length;
        long[] pads;
        long[] axes;
        if (c.B.Opset >= 11)
        {
            pads = c.ConstantInts(1);
            axes = c.HasInput(3) ? c.ConstantInts(3).Select(a => RuleContext.Axis(a, rank)).ToArray() : Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
        }
        else
        {
            pads = c.Ints("pads") ?? throw c.Refuse("Pad has no pads");
            axes = Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
        }

        var mode = c.Str("mode", "constant");
        var count = axes.Length;
        var g = c.Dy;
        var shape = (long[])c.Shape(c.Y()).Clone();
        for (var j = 0; j < count; j++)
        {
            var axis = (int)axes[j];
            var before = pads[j];
            var after = pads[count + j];
            if (before == 0 && after == 0)
            {
                continue;
            }

            var n = xShape[axis];
            g = mode switch
            {
                "constant" => Constant(c, g, shape, axis, before, after, n),
                "edge" => Edge(c, g, shape, axis, before, after, n),
                "reflect" => Reflect(c, g, shape, axis, before, after, n),
                _ => throw c.Refuse($"pad mode '{mode}' has no gradient rule; allowed: constant, edge, reflect"),
            };
            shape[axis] = n;
        }

        c.SetGrad(0, g);
    }

    private static string Constant(RuleContext c, string g, long[] shape, int axis, long before, long after, long n)
    {
        var rank = shape.Length;
        var start = Math.Max(before, 0);
        var stop = shape[axis] - Math.Max(after, 0);
        g = c.B.Slice(g, [start], [stop], [axis], hint: c.Hint);
        var back = new long[2 * rank];
        back[axis] = Math.Max(-before, 0);
        back[rank + axis] = Math.Max(-after, 0);
        return c.B.Pad(g, back, 0, c.Hint);
    }

    private static string Edge(RuleContext c, string g, long[] shape, int axis, long before, long after, long n)
    {
        if (before < 0 || after < 0)
        {
            throw c.Refuse("negative pads are only supported in constant mode");
        }

        var rank = shape.Length;
        var centre = c.B.Slice(g, [before], [before + n], [axis], hint: c.Hint);
        var terms = new List<string> { centre };
        if (before > 0)
        {
            var slab = c.B.ReduceSum(c.B.Slice(g, [0], [before], [axis], hint: c.Hint), [axis], keepDims: true, c.Hint);
            var pads = new long[2 * rank];
            pads[rank + axis] = n - 1;
            terms.Add(c.B.Pad(slab, pads, 0, c.Hint));
        }

        if (after > 0)
        {
            var slab = c.B.ReduceSum(c.B.Slice(g, [before + n], [before + n + after], [axis], hint: c.Hint), [axis], keepDims: true, c.Hint);
            var pads = new long[2 * rank];
            pads[axis] = n - 1;
            terms.Add(c.B.Pad(slab, pads, 0, c.Hint));
        }

        return c.B.SumOf(terms, c.Hint);
    }

    private static string Reflect(RuleContext c, string g, long[] shape, int axis, long before, long after, long n)
    {
        if (before < 0 || after < 0 || before >= n || after >= n)
        {
            throw c.Refuse($"reflect pads must be non-negative and smaller than the axis length {n}");
        }

        var rank = shape.Length;
        var centre = c.B.Slice(g, [before], [before + n], [axis], hint: c.Hint);
        var terms = new List<string> { centre };
        if (before > 0)
        {
            // Output position i < before mirrors input position before - i: reversed, the slab lands on 1..before.
            var slab = c.B.Slice(g, [before - 1], [long.MinValue], [axis], [-1], c.Hint);
            var pads = new long[2 * rank];
            pads[axis] = 1;
            pads[rank + axis] = n - 1 - before;
            terms.Add(c.B.Pad(slab, pads, 0, c.Hint));
        }

        if (after > 0)
        {
            // Output position before+n+j mirrors input n-2-j: reversed, the slab lands on n-1-after..n-2.
            var slab = c.B.Slice(g, [before + n + after - 1], [before + n - 1], [axis], [-1], c.Hint);
            var pads = new long[2 * rank];
            pads[axis] = n - 1 - after;
            pads[rank + axis] = 1;
            terms.Add(c.B.Pad(slab, pads, 0, c.Hint));
        }

        return c.B.SumOf(terms, c.Hint);
    }
}
