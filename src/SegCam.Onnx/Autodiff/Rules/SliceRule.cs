namespace SegCam.Onnx.Autodiff.Rules;

/// <summary>Slice backward: zero-pad, reverse or zero-stuff each sliced axis back into place (AUTODIFF.md 2.5).</summary>
internal static class SliceRule
{
    public static void Backward(RuleContext c)
    {
        var xShape = c.Shape(c.X());
        var rank = xShape.Length;
        var starts = c.ConstantInts(1);
        var ends = c.ConstantInts(2);
        var axes = c.HasInput(3) ? c.ConstantInts(3) : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        var steps = c.HasInput(4) ? c.ConstantInts(4) : Enumerable.Repeat(1L, starts.Length).ToArray();
        if (c.Shape(c.Y()).Any(d => d == 0))
        {
            c.SetGrad(0, c.B.Zeros(xShape, c.Hint));
            return;
        }

        var g = c.Dy;
        var shape = (long[])c.Shape(c.Y()).Clone();
        for (var j = axes.Length - 1; j >= 0; j--)
        {
            var axis = RuleContext.Axis(axes[j], rank);
            var d = xShape[axis];
            var step = steps[j];
            var n = shape[axis];
            var (start, _) = Normalize(starts[j], ends[j], step, d);
            long low;
            if (step < 0)
            {
                g = c.B.Slice(g, [-1], [long.MinValue], [axis], [-1], c.Hint);
                low = start - ((n - 1) * -step);
            }
            else
            {
                low = start;
            }

            var k = Math.Abs(step);
            var span = n;
            if (k > 1)
            {
                g = Stuff(c, g, shape, (int)axis, k);
                span = ((n - 1) * k) + 1;
            }

            var pads = new long[2 * rank];
            pads[axis] = low;
            pads[rank + axis] = d - low - span;
            g = c.B.Pad(g, pads, 0, c.Hint);
            shape[axis] = d;
        }

        c.SetGrad(0, g);
    }

    /// <summary>ONNX start/end normalisation for one axis of length <paramref name="d"/>.</summary>
    private static (long Start, long End) Normalize(long start, long end, long step, long d)
    {
        if (start < 0)
        {
            start += d;
        }

        if (end < 0)
        {
            end += d;
        }

        if (step > 0)
        {
            return (Math.Clamp(start, 0, d), Math.Clamp(end, 0, d));
        }

        return (Math.Clamp(start, 0, d - 1), Math.Clamp(end, -1, d - 1));
    }

    /// <summary>Inserts k-1 zeros after every element of <paramref name="axis"/> and trims the tail: n → (n-1)k+1.</summary>
    internal static string Stuff(RuleContext c, string g, long[] shape, int axis, long k)
    {
        var rank = shape.Length;
        var n = shape[axis];
        var unsq = c.B.Unsqueeze(g, [axis + 1], c.Hint);
        var pads = new long[2 * (rank + 1)];
        pads[rank + 1 + axis + 1] = k - 1;
        var padded = c.B.Pad(unsq, pads, 0, c.Hint);
        var merged = shape.ToArray();
        merged[axis] = n * k;
        var flat = c.B.Reshape(padded, merged, c.Hint);
        return c.B.Slice(flat, [0], [((n - 1) * k) + 1], [axis], hint: c.Hint);
    }
}
