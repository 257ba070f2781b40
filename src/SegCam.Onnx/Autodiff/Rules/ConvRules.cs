using SegCam.Onnx.Graph;

namespace SegCam.Onnx.Autodiff.Rules;

/// <summary>Conv and ConvTranspose input gradients (AUTODIFF.md 2.1); no weight gradients.</summary>
internal static class ConvRules
{
    public static IEnumerable<GradientRule> All()
    {
        yield return GradientRule.Unary("Conv", ConvBackward);
        yield return GradientRule.Unary("ConvTranspose", ConvTransposeBackward);
    }

    /// <summary>Per-axis geometry of a Conv-like window op over spatial axes.</summary>
    internal sealed record Geometry(long[] Kernel, long[] Strides, long[] Dilations, long[] Begin, long[] End);

    /// <summary>Resolves kernel, strides, dilations and explicit pads (auto_pad from probed shapes).</summary>
    internal static Geometry Resolve(RuleContext c, long[] kernel, long[] inSpatial, long[] outSpatial)
    {
        var dims = kernel.Length;
        var strides = c.Ints("strides") ?? Enumerable.Repeat(1L, dims).ToArray();
        var dilations = c.Ints("dilations") ?? Enumerable.Repeat(1L, dims).ToArray();
        var begin = new long[dims];
        var end = new long[dims];
        var autoPad = c.Str("auto_pad", "NOTSET");
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            for (var i = 0; i < dims; i++)
            {
                var total = Math.Max(0, ((outSpatial[i] - 1) * strides[i]) + (dilations[i] * (kernel[i] - 1)) + 1 - inSpatial[i]);
                var small = total / 2;
                (begin[i], end[i]) = autoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small);
            }
        }
        else if (autoPad is "NOTSET" or "")
        {
            var pads = c.Ints("pads");
            if (pads is not null)
            {
                Array.Copy(pads, 0, begin, 0, dims);
                Array.Copy(pads, dims, end, 0, dims);
            }
        }

        return new Geometry(kernel, strides, dilations, begin, end);
    }

    private static void ConvBackward(RuleContext c)
    {
        var xShape = c.Shape(c.X());
        var wShape = c.Shape(c.X(1));
        var yShape = c.Shape(c.Y());
        var kernel = wShape[2..];
        var inSp = xShape[2..];
        var outSp = yShape[2..];
        var geo = Resolve(c, kernel, inSp, outSp);
        var group = c.Int("group", 1);
        c.SetGrad(0, FlippedConv(c, geo, group, wShape, inSp) ?? TransposedWindow(c, c.Dy, c.X(1), group, geo, inSp, outSp));
    }

    /// <summary>
    /// Stride-1 fast path: dX is a correlation of dY with the spatially flipped, channel-transposed kernel, padded by
    /// d(k−1)−b before and d(k−1)−e after, so it runs on the Conv kernel (much faster than ConvTranspose on CPU).
    /// Needs the weight as an initializer; returns null when it does not apply.
    /// </summary>
    private static string? FlippedConv(RuleContext c, Geometry geo, long group, long[] wShape, long[] inSp)
    {
        var dims = inSp.Length;
        if (geo.Strides.Any(s => s != 1) || c.B.FindInitializer(c.X(1)) is not { } weight || weight.DataType != Model.TensorValues.Float)
        {
            return null;
        }

        var pads = new long[2 * dims];
        for (var i = 0; i < dims; i++)
        {
            var reach = geo.Dilations[i] * (geo.Kernel[i] - 1);
            pads[i] = reach - geo.Begin[i];
            pads[dims + i] = reach - geo.End[i];
            if (pads[i] < 0 || pads[dims + i] < 0)
            {
                return null;
            }
        }

        var w = Model.TensorValues.ToDoubles(weight);
        long cout = wShape[0], cinPerGroup = wShape[1];
        var coutPerGroup = cout / group;
        var taps = geo.Kernel.Aggregate(1L, (a, k) => a * k);
        var flipped = new double[w.Length];
        for (long co = 0; co < cout; co++)
        {
            var g = co / coutPerGroup;
            var coLocal = co % coutPerGroup;
            for (long ci = 0; ci < cinPerGroup; ci++)
            {
                var source = ((co * cinPerGroup) + ci) * taps;
                var target = ((((g * cinPerGroup) + ci) * coutPerGroup) + coLocal) * taps;
                for (long t = 0; t < taps; t++)
                {
                    flipped[target + (taps - 1 - t)] = w[source + t];
                }
            }
        }

        var kernel = c.B.Floats(flipped, [cinPerGroup * group, coutPerGroup, .. geo.Kernel], c.Hint + "/flipped_w");
        return c.B.Op("Conv", c.Hint, [c.Dy, kernel],
            Attr.Ints("kernel_shape", geo.Kernel),
            Attr.Ints("dilations", geo.Dilations),
            Attr.Ints("pads", pads),
            Attr.Int("group", group));
    }

    /// <summary>
    /// The adjoint of a strided window op: ConvTranspose of <paramref name="dy"/> with <paramref name="weight"/>, then
    /// cropped to the input extent and zero-padded where no window reached (AUTODIFF.md 2.1 steps 3-6).
    /// </summary>
    internal static string TransposedWindow(RuleContext c, string dy, string weight, long group, Geometry geo, long[] inSp, long[] outSp)
    {
        var dims = inSp.Length;
        var full = new long[dims];
        var tail = new long[dims];
        var symmetric = true;
        for (var i = 0; i < dims; i++)
        {
            full[i] = ((outSp[i] - 1) * geo.Strides[i]) + (geo.Dilations[i] * (geo.Kernel[i] - 1)) + 1;
            tail[i] = full[i] - geo.Begin[i] - inSp[i];
            symmetric &= tail[i] >= 0 && tail[i] == geo.Begin[i];
        }

        var attrs = new List<Protocol.AttributeProto>
        {
            Attr.Ints("strides", geo.Strides),
            Attr.Ints("dilations", geo.Dilations),
            Attr.Ints("kernel_shape", geo.Kernel),
            Attr.Int("group", group),
        };
        if (symmetric)
        {
            attrs.Add(Attr.Ints("pads", [.. geo.Begin, .. tail]));
            return c.B.Op("ConvTranspose", c.Hint, [dy, weight], [.. attrs]);
        }

        attrs.Add(Attr.Ints("pads", new long[2 * dims]));
        var z = c.B.Op("ConvTranspose", c.Hint, [dy, weight], [.. attrs]);
        var axes = Enumerable.Range(2, dims).Select(i => (long)i).ToArray();
        var stops = new long[dims];
        var padEnd = new long[2 * (dims + 2)];
        for (var i = 0; i < dims; i++)
        {
            stops[i] = Math.Min(full[i], geo.Begin[i] + inSp[i]);
            padEnd[dims + 2 + 2 + i] = Math.Max(0, geo.Begin[i] + inSp[i] - full[i]);
        }

        var cropped = c.B.Slice(z, geo.Begin, stops, axes, hint: c.Hint);
        return c.B.Pad(cropped, padEnd, 0, c.Hint);
    }

    /// <summary>Geometry of a ConvTranspose node: output_padding and the pads actually applied (derived as ORT does).</summary>
    internal sealed record TransposeGeometry(long[] Kernel, long[] Strides, long[] Dilations, long[] OutputPadding, long[] Begin, long[] End);

    /// <summary>Resolves a ConvTranspose node's geometry; output_shape and auto_pad are derived from the probed output length.</summary>
    internal static TransposeGeometry ResolveTranspose(RuleContext c, long[] xShape, long[] wShape, long[] yShape)
    {
        var dims = xShape.Length - 2;
        var kernel = wShape[2..];
        var inSp = xShape[2..];
        var outSp = yShape[2..];
        var strides = c.Ints("strides") ?? Enumerable.Repeat(1L, dims).ToArray();
        var dilations = c.Ints("dilations") ?? Enumerable.Repeat(1L, dims).ToArray();
        var outputPadding = c.Ints("output_padding") ?? new long[dims];
        var begin = new long[dims];
        var end = new long[dims];
        var autoPad = c.Str("auto_pad", "NOTSET");
        var pads = c.Ints("pads");
        if (c.HasAttribute("output_shape") || autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            // Derive the pads from the probed output length, as ORT does: the spec's total padding,
            // the odd element at the end for SAME_UPPER and at the start otherwise.
            for (var i = 0; i < dims; i++)
            {
                var total = (strides[i] * (inSp[i] - 1)) + outputPadding[i] + ((kernel[i] - 1) * dilations[i]) + 1 - outSp[i];
                var small = total / 2;
                (begin[i], end[i]) = autoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small);
            }
        }
        else if (pads is not null)
        {
            Array.Copy(pads, 0, begin, 0, dims);
            Array.Copy(pads, dims, end, 0, dims);
        }

        return new TransposeGeometry(kernel, strides, dilations, outputPadding, begin, end);
    }

    private static void ConvTransposeBackward(RuleContext c)
    {
        var xShape = c.Shape(c.X());
        var wShape = c.Shape(c.X(1));
        var yShape = c.Shape(c.Y());
        var dims = xShape.Length - 2;
        var inSp = xShape[2..];
        var outSp = yShape[2..];
        var geo = ResolveTranspose(c, xShape, wShape, yShape);
        var (kernel, strides, dilations, outputPadding, begin, end) = (geo.Kernel, geo.Strides, geo.Dilations, geo.OutputPadding, geo.Begin, geo.End);
        var convPads = new long[2 * dims];
        for (var i = 0; i < dims; i++)
        {
            convPads[i] = begin[i];
            convPads[dims + i] = Math.Max(0, end[i] - outputPadding[i]);
        }

        var dx = c.B.Op("Conv", c.Hint, [c.Dy, c.X(1)],
            Attr.Ints("strides", strides),
            Attr.Ints("dilations", dilations),
            Attr.Ints("kernel_shape", kernel),
            Attr.Int("group", c.Int("group", 1)),
            Attr.Ints("pads", convPads));

        // The result is longer than the input only when output_padding >= stride (with dilation).
        var resultSp = new long[dims];
        var trim = false;
        for (var i = 0; i < dims; i++)
        {
            resultSp[i] = ((outSp[i] + convPads[i] + convPads[dims + i] - (dilations[i] * (kernel[i] - 1)) - 1) / strides[i]) + 1;
            trim |= resultSp[i] != inSp[i];
        }

        if (trim)
        {
            dx = c.B.Slice(dx, new long[dims], inSp, Enumerable.Range(2, dims).Select(i => (long)i).ToArray(), hint: c.Hint);
        }

        c.SetGrad(0, dx);
    }
}
