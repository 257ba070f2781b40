using SegCam.Onnx.Autodiff;
using SegCam.Onnx.Autodiff.Rules;
using SegCam.Onnx.Graph;

namespace SegCam.Onnx.Precision;

/// <summary>
/// Window operators written with ops that ONNX Runtime's CPU provider runs in float64: a convolution is a sum over
/// kernel offsets of (strided slice of the padded input) × (that offset's weight matrix), one MatMul per offset,
/// so no im2col buffer of kernel-size times the input is ever held.
/// </summary>
internal static class WindowLowering
{
    /// <summary>Conv as Σ_offsets W_j · slice_j(pad(x)); pads may be negative (cropping).</summary>
    public static string Conv(RuleContext c, string x, string w, string? bias, long[] xShape, long[] wShape, long[] yShape, ConvRules.Geometry geo, long group)
    {
        var b = c.B;
        var h = c.Hint;
        var dims = xShape.Length - 2;
        var axes = Enumerable.Range(2, dims).Select(i => (long)i).ToArray();
        var outSp = yShape[2..];
        var xp = PadOrCrop(c, x, xShape, geo.Begin, geo.End);
        long n = xShape[0], cin = xShape[1], cout = wShape[0];
        var cinPerGroup = cin / group;
        var coutPerGroup = cout / group;
        var positions = outSp.Aggregate(1L, (a, d) => a * d);
        string? sum = null;
        foreach (var offset in PoolingRules.Offsets(geo.Kernel))
        {
            var starts = offset.Select((j, i) => j * geo.Dilations[i]).ToArray();
            var ends = starts.Select((s, i) => s + ((outSp[i] - 1) * geo.Strides[i]) + 1).ToArray();
            var slice = b.Reshape(b.Slice(xp, starts, ends, axes, geo.Strides, h), [n, group, cinPerGroup, positions], h);
            var tap = b.Slice(w, offset, offset.Select(j => j + 1).ToArray(), axes, hint: h);
            var matrix = b.Reshape(tap, [group, coutPerGroup, cinPerGroup], h);
            var term = b.Op("MatMul", h, [matrix, slice]);
            sum = sum is null ? term : b.Add(sum, term, h);
        }

        var y = b.Reshape(sum!, [n, cout, .. outSp], h);
        if (bias is not null)
        {
            y = b.Add(y, b.Reshape(bias, [cout, .. Enumerable.Repeat(1L, dims)], h), h);
        }

        return y;
    }

    /// <summary>
    /// ConvTranspose as a stride-1 Conv of the zero-stuffed input with the flipped, channel-transposed kernel,
    /// padded by d(k−1)−begin before and d(k−1)−end+output_padding after.
    /// </summary>
    public static string ConvTranspose(RuleContext c, string x, string w, string? bias, long[] xShape, long[] wShape, long[] yShape, long group)
    {
        var b = c.B;
        var h = c.Hint;
        var dims = xShape.Length - 2;
        var geo = ConvRules.ResolveTranspose(c, xShape, wShape, yShape);
        var stuffed = x;
        var shape = (long[])xShape.Clone();
        for (var i = 0; i < dims; i++)
        {
            if (geo.Strides[i] > 1)
            {
                stuffed = SliceRule.Stuff(c, stuffed, shape, 2 + i, geo.Strides[i]);
                shape[2 + i] = ((shape[2 + i] - 1) * geo.Strides[i]) + 1;
            }
        }

        long cin = wShape[0], coutPerGroup = wShape[1];
        var cinPerGroup = cin / group;
        var cout = coutPerGroup * group;
        long[] kernelDims = [.. geo.Kernel];
        var grouped = b.Reshape(w, [group, cinPerGroup, coutPerGroup, .. kernelDims], h);
        long[] perm = [0, 2, 1, .. Enumerable.Range(3, dims).Select(i => (long)i)];
        var swapped = b.Reshape(b.Transpose(grouped, perm, h), [cout, cinPerGroup, .. kernelDims], h);
        var spatialAxes = Enumerable.Range(2, dims).Select(i => (long)i).ToArray();
        var flipped = b.Slice(swapped, [.. Enumerable.Repeat(-1L, dims)], [.. Enumerable.Repeat(long.MinValue, dims)], spatialAxes, [.. Enumerable.Repeat(-1L, dims)], h);
        var begin = new long[dims];
        var end = new long[dims];
        for (var i = 0; i < dims; i++)
        {
            var reach = geo.Dilations[i] * (geo.Kernel[i] - 1);
            begin[i] = reach - geo.Begin[i];
            end[i] = reach - geo.End[i] + geo.OutputPadding[i];
        }

        var convGeo = new ConvRules.Geometry(geo.Kernel, [.. Enumerable.Repeat(1L, dims)], geo.Dilations, begin, end);
        return Conv(c, stuffed, flipped, bias, shape, [cout, cinPerGroup, .. kernelDims], yShape, convGeo, group);
    }

    /// <summary>AveragePool as Σ_offsets slice_j(zero-padded x) times the measured 1/divisor of every window.</summary>
    public static string AveragePool(RuleContext c, string x, long[] xShape, long[] yShape)
    {
        var b = c.B;
        var h = c.Hint;
        var geo = PoolingRules.Geometry(c);
        var dims = xShape.Length - 2;
        var inSp = xShape[2..];
        var outSp = yShape[2..];
        var end = new long[dims];
        for (var i = 0; i < dims; i++)
        {
            // Ceil mode may let the last window run past the end padding: pad with zeros as far as it reaches.
            var full = ((outSp[i] - 1) * geo.Strides[i]) + (geo.Dilations[i] * (geo.Kernel[i] - 1)) + 1;
            end[i] = full - geo.Begin[i] - inSp[i];
        }

        var xp = PadOrCrop(c, x, xShape, geo.Begin, end);
        var axes = Enumerable.Range(2, dims).Select(i => (long)i).ToArray();
        var terms = new List<string>();
        foreach (var offset in PoolingRules.Offsets(geo.Kernel))
        {
            var starts = offset.Select((j, i) => j * geo.Dilations[i]).ToArray();
            var ends = starts.Select((s, i) => s + ((outSp[i] - 1) * geo.Strides[i]) + 1).ToArray();
            terms.Add(b.Slice(xp, starts, ends, axes, geo.Strides, h));
        }

        var reciprocals = b.Floats(PoolingRules.Reciprocals(c, geo, inSp, outSp), [1, 1, .. outSp], h + "/divisors");
        return b.Mul(b.SumOf(terms, h), reciprocals, h);
    }

    /// <summary>Zero-pads the spatial axes by <paramref name="begin"/>/<paramref name="end"/>, cropping where they are negative.</summary>
    private static string PadOrCrop(RuleContext c, string x, long[] xShape, long[] begin, long[] end)
    {
        var dims = begin.Length;
        var rank = dims + 2;
        var pads = new long[2 * rank];
        var cropStarts = new long[dims];
        var cropEnds = new long[dims];
        var crop = false;
        for (var i = 0; i < dims; i++)
        {
            pads[2 + i] = Math.Max(0, begin[i]);
            pads[rank + 2 + i] = Math.Max(0, end[i]);
            cropStarts[i] = Math.Max(0, -begin[i]);
            cropEnds[i] = xShape[2 + i] - Math.Max(0, -end[i]);
            crop |= begin[i] < 0 || end[i] < 0;
        }

        var y = crop ? c.B.Slice(x, cropStarts, cropEnds, [.. Enumerable.Range(2, dims).Select(i => (long)i)], hint: c.Hint) : x;
        return c.B.Pad(y, pads, 0, c.Hint);
    }
}
