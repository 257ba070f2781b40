using SegCam.Onnx.Graph;
using SegCam.Onnx.Probing;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Autodiff.Rules;

/// <summary>MaxPool and AveragePool input gradients (AUTODIFF.md 2.6).</summary>
internal static class PoolingRules
{
    public static IEnumerable<GradientRule> All()
    {
        yield return GradientRule.Unary("MaxPool", MaxPool);
        yield return GradientRule.Unary("AveragePool", AveragePool);
    }

    internal static ConvRules.Geometry Geometry(RuleContext c)
    {
        var xShape = c.Shape(c.X());
        var kernel = c.Ints("kernel_shape") ?? throw c.Refuse("kernel_shape is required");
        return ConvRules.Resolve(c, kernel, xShape[2..], c.Shape(c.Y())[2..]);
    }

    private static void MaxPool(RuleContext c)
    {
        var geo = Geometry(c);
        var xShape = c.Shape(c.X());
        var outSp = c.Shape(c.Y())[2..];
        var inSp = xShape[2..];
        var dims = inSp.Length;
        var fast = true;
        for (var i = 0; i < dims; i++)
        {
            fast &= geo.Kernel[i] == geo.Strides[i] && geo.Dilations[i] == 1 && geo.Begin[i] == 0 && geo.End[i] == 0
                    && outSp[i] == inSp[i] / geo.Kernel[i];
        }

        c.SetGrad(0, fast ? MaxPoolScatter(c, geo, xShape) : MaxPoolGeneral(c, geo, xShape, outSp));
    }

    /// <summary>
    /// Non-overlapping windows: MaxPool's Indices output names each window's first maximum (row-major scan, the element
    /// PyTorch routes the gradient to), and dY is scattered there into zeros — three passes instead of a windowed
    /// reshape, transpose and cumulative sum. Windows do not overlap, so no index repeats.
    /// </summary>
    private static string MaxPoolScatter(RuleContext c, ConvRules.Geometry geo, long[] xShape)
    {
        var b = c.B;
        var h = c.Hint;
        var indices = b.OpMulti("MaxPool", h, [c.X()], 2,
            Attr.Ints("kernel_shape", geo.Kernel), Attr.Ints("strides", geo.Strides), Attr.Int("storage_order", 0))[1];
        var count = xShape.Aggregate(1L, (a, d) => a * d);
        var zeros = b.Op("ConstantOfShape", h, [b.Ints(count)], Attr.Tensor("value", Model.TensorValues.FromDoubles(string.Empty, b.FloatType, [0.0], 1)));
        var scattered = b.Op("ScatterElements", h, [zeros, b.Reshape(indices, [-1], h), b.Reshape(c.Dy, [-1], h)], Attr.Int("axis", 0));
        return b.Reshape(scattered, xShape, h);
    }

    /// <summary>Overlapping windows, pads, dilation or ceil mode: one strided slice per kernel offset, first hit wins.</summary>
    private static string MaxPoolGeneral(RuleContext c, ConvRules.Geometry geo, long[] xShape, long[] outSp)
    {
        var b = c.B;
        var h = c.Hint;
        var dims = outSp.Length;
        var rank = dims + 2;
        var inSp = xShape[2..];
        var full = new long[dims];
        var padSpec = new long[2 * rank];
        var needCrop = false;
        for (var i = 0; i < dims; i++)
        {
            full[i] = ((outSp[i] - 1) * geo.Strides[i]) + (geo.Dilations[i] * (geo.Kernel[i] - 1)) + 1;
            padSpec[2 + i] = geo.Begin[i];
            var endPad = full[i] - geo.Begin[i] - inSp[i];
            padSpec[rank + 2 + i] = Math.Max(0, endPad);
            needCrop |= endPad < 0;
        }

        var xp = b.Pad(c.X(), padSpec, double.NegativeInfinity, h);
        var axes = Enumerable.Range(2, dims).Select(i => (long)i).ToArray();
        var strided = outSp.Select((o, i) => ((o - 1) * geo.Strides[i]) + 1).ToArray();
        string? taken = null;
        var terms = new List<string>();
        foreach (var offset in Offsets(geo.Kernel))
        {
            var starts = offset.Select((j, i) => j * geo.Dilations[i]).ToArray();
            var ends = starts.Select((s, i) => s + strided[i]).ToArray();
            var xj = b.Slice(xp, starts, ends, axes, geo.Strides, h);
            var hit = b.Op("Equal", h, [xj, c.Y()]);
            if (taken is not null)
            {
                hit = b.Op("And", h, [hit, b.Op("Not", h, [taken])]);
                taken = b.Op("Or", h, [taken, hit]);
            }
            else
            {
                taken = hit;
            }

            var contribution = b.Where(hit, c.Dy, c.Scalar(0), h);
            var shape = c.Shape(c.Y()).ToArray();
            for (var i = 0; i < dims; i++)
            {
                if (geo.Strides[i] > 1)
                {
                    contribution = SliceRule.Stuff(c, contribution, shape, 2 + i, geo.Strides[i]);
                    shape[2 + i] = strided[i];
                }
            }

            var place = new long[2 * rank];
            for (var i = 0; i < dims; i++)
            {
                place[2 + i] = starts[i];
                place[rank + 2 + i] = full[i] - starts[i] - strided[i];
            }

            terms.Add(b.Pad(contribution, place, 0, h));
        }

        var sum = b.SumOf(terms, h);
        var stops = inSp.Select((n, i) => geo.Begin[i] + n).ToArray();
        var cropped = b.Slice(sum, geo.Begin, stops.Select((s, i) => Math.Min(s, full[i])).ToArray(), axes, hint: h);
        if (!needCrop)
        {
            return cropped;
        }

        var tail = new long[2 * rank];
        for (var i = 0; i < dims; i++)
        {
            tail[rank + 2 + i] = Math.Max(0, geo.Begin[i] + inSp[i] - full[i]);
        }

        return b.Pad(cropped, tail, 0, h);
    }

    /// <summary>Every kernel offset, row-major.</summary>
    internal static IEnumerable<long[]> Offsets(long[] kernel)
    {
        var index = new long[kernel.Length];
        while (true)
        {
            yield return (long[])index.Clone();
            var axis = kernel.Length - 1;
            while (axis >= 0 && ++index[axis] == kernel[axis])
            {
                index[axis] = 0;
                axis--;
            }

            if (axis < 0)
            {
                yield break;
            }
        }
    }

    private static void AveragePool(RuleContext c)
    {
        var geo = Geometry(c);
        var xShape = c.Shape(c.X());
        var outSp = c.Shape(c.Y())[2..];
        var inSp = xShape[2..];
        var dims = inSp.Length;

        var k = Reciprocals(c, geo, inSp, outSp);
        var kc = c.B.Floats(k, [1, 1, .. outSp], c.Hint + "/divisors");
        var channels = xShape[1];
        var onesKernel = c.B.Floats(Enumerable.Repeat(1.0, (int)(channels * geo.Kernel.Aggregate(1L, (a, d) => a * d))).ToArray(), [channels, 1, .. geo.Kernel], c.Hint + "/ones");
        var scaled = c.B.Mul(c.Dy, kc, c.Hint);
        c.SetGrad(0, ConvRules.TransposedWindow(c, scaled, onesKernel, channels, geo, inSp, outSp));
    }

    /// <summary>
    /// 1/divisor of every output window of the AveragePool node, measured rather than assumed (AUTODIFF.md 2.6, pitfall 5):
    /// AvgPool(ones) = |window ∩ input| / divisor. The divisor is an integer, so it is recovered exactly and inverted in double.
    /// </summary>
    internal static double[] Reciprocals(RuleContext c, ConvRules.Geometry geo, long[] inSp, long[] outSp)
    {
        var probeNode = new NodeProto { OpType = "AveragePool", Name = "probe" };
        probeNode.Input.Add("x");
        probeNode.Output.Add("y");
        probeNode.Attribute.AddRange(c.Node.Attribute.Select(a => a.Clone()));
        long[] probeShape = [1, 1, .. inSp];
        var ones = Enumerable.Repeat(1f, (int)inSp.Aggregate(1L, (a, d) => a * d)).ToArray();
        var averaged = SingleNodeProbe.Run(probeNode, c.B.Opset, ones, probeShape, [], out _);
        var counts = WindowCounts(geo, inSp, outSp);
        var k = new double[averaged.Length];
        for (var i = 0; i < k.Length; i++)
        {
            k[i] = counts[i] == 0 || averaged[i] == 0 ? 0 : 1.0 / Math.Round(counts[i] / (double)averaged[i]);
        }

        return k;
    }

    /// <summary>Number of real input elements in each output window (row-major over the output grid).</summary>
    private static long[] WindowCounts(ConvRules.Geometry geo, long[] inSp, long[] outSp)
    {
        var dims = inSp.Length;
        var perAxis = new long[dims][];
        for (var a = 0; a < dims; a++)
        {
            perAxis[a] = new long[outSp[a]];
            for (var o = 0; o < outSp[a]; o++)
            {
                for (var t = 0; t < geo.Kernel[a]; t++)
                {
                    var x = (o * geo.Strides[a]) + (t * geo.Dilations[a]) - geo.Begin[a];
                    if (x >= 0 && x < inSp[a])
                    {
                        perAxis[a][o]++;
                    }
                }
            }
        }

        var total = outSp.Aggregate(1L, (p, d) => p * d);
        var counts = new long[total];
        for (var flat = 0L; flat < total; flat++)
        {
            var rest = flat;
            long count = 1;
            for (var a = dims - 1; a >= 0; a--)
            {
                count *= perAxis[a][rest % outSp[a]];
                rest /= outSp[a];
            }

            counts[flat] = count;
        }

        return counts;
    }
}
