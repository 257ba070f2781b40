using SegCam.Onnx.Model;
using SegCam.Onnx.Probing;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Autodiff.Rules;

/// <summary>
/// Resize backward: the op is separable, Y = (W_1 ⊗ … ⊗ W_r) X, so dX applies each W_aᵀ in turn (AUTODIFF.md 2.7).
/// Each W_a is measured from ORT itself by resizing an identity laid along that axis, so every mode,
/// coordinate transformation, rounding rule and float32 detail is exactly what the forward pass did.
/// </summary>
internal static class ResizeRule
{
    public static GradientRule Rule() => GradientRule.Unary("Resize", Backward);

    private static void Backward(RuleContext c)
    {
        var xShape = c.Shape(c.X());
        var yShape = c.Shape(c.Y());
        var rank = xShape.Length;
        if (Unsupported(c) is { } why)
        {
            throw c.Refuse(why);
        }

        var fullScales = FullScales(c, rank);
        var g = c.Dy;
        var shape = (long[])yShape.Clone();
        var order = Enumerable.Range(0, rank).Where(a => xShape[a] != yShape[a]).OrderBy(a => (double)yShape[a] / xShape[a]);
        foreach (var axis in order)
        {
            var weights = ProbeWeights(c, xShape[axis], yShape[axis], axis, rank, fullScales?[axis]);
            g = ApplyTransposed(c, g, shape, axis, weights, xShape[axis], yShape[axis]);
            shape[axis] = xShape[axis];
        }

        c.SetGrad(0, g);
    }

    /// <summary>Why the node's resize cannot be written as separable per-axis matrices, or null when it can.</summary>
    internal static string? Unsupported(RuleContext c)
    {
        if (c.Str("coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize")
        {
            return "coordinate mode tf_crop_and_resize is not supported";
        }

        return c.Str("keep_aspect_ratio_policy", "stretch") != "stretch" ? "keep_aspect_ratio_policy other than 'stretch' is not supported" : null;
    }

    /// <summary>W_a as [out, in] (row-major), measured by resizing an identity matrix with ORT.</summary>
    internal static double[] ProbeWeights(RuleContext c, long inLength, long outLength, int axis, int rank, double? scale)
    {
        // The identity runs along axis `identityAxis` (resized with scale 1) and `axis`.
        var identityAxis = axis == 0 ? 1 : 0;
        var probeShape = Enumerable.Repeat(1L, rank).ToArray();
        probeShape[identityAxis] = inLength;
        probeShape[axis] = inLength;
        var eye = new float[inLength * inLength];
        for (var i = 0; i < inLength; i++)
        {
            eye[(i * inLength) + i] = 1f;
        }

        var node = new NodeProto { OpType = "Resize", Name = "probe" };
        node.Attribute.AddRange(c.Node.Attribute.Where(a => a.Name is not ("axes" or "keep_aspect_ratio_policy")).Select(a => a.Clone()));
        node.Input.Add("x");
        node.Output.Add("y");
        var constants = new List<TensorProto>();
        node.Input.Add(c.B.Opset >= 13 ? string.Empty : "roi");
        if (c.B.Opset < 13)
        {
            constants.Add(TensorValues.FromFloats("roi", ReadOnlySpan<float>.Empty, 0));
        }

        if (scale is { } s)
        {
            var probeScales = Enumerable.Repeat(1f, rank).ToArray();
            probeScales[axis] = (float)s;
            node.Input.Add("scales");
            constants.Add(TensorValues.FromFloats("scales", probeScales, rank));
        }
        else
        {
            var sizes = (long[])probeShape.Clone();
            sizes[axis] = outLength;
            node.Input.Add(c.B.Opset >= 13 ? string.Empty : "scales");
            if (c.B.Opset < 13)
            {
                constants.Add(TensorValues.FromFloats("scales", ReadOnlySpan<float>.Empty, 0));
            }

            node.Input.Add("sizes");
            constants.Add(TensorValues.FromLongs("sizes", sizes, rank));
        }

        var y = SingleNodeProbe.Run(node, c.B.Opset, eye, probeShape, constants, out var yShape);
        if (yShape[axis] != outLength || yShape[identityAxis] != inLength)
        {
            throw c.Refuse($"probing the resize weights gave shape [{string.Join(',', yShape)}], expected {outLength} along axis {axis}");
        }

        // y is laid out with identityAxis before or after axis; element (i on identityAxis, x on axis) is W[x, i].
        var w = new double[outLength * inLength];
        for (var i = 0; i < inLength; i++)
        {
            for (var x = 0; x < outLength; x++)
            {
                var flat = identityAxis < axis ? (i * outLength) + x : (x * inLength) + i;
                w[(x * inLength) + i] = y[flat];
            }
        }

        var linear = c.Str("mode", "nearest") == "linear" && c.Int("antialias", 0) == 0;
        return linear ? LinearResizeWeights.Refine(w, c.Str("coordinate_transformation_mode", "half_pixel"), inLength, outLength, scale) : w;
    }

    /// <summary>Scales of the resized axes (full rank, 1 where not resized), or null when the node resizes by sizes.</summary>
    internal static double[]? FullScales(RuleContext c, int rank)
    {
        var scales = c.HasInput(2) ? c.Constant(2) : [];
        if (scales.Length == 0)
        {
            return null;
        }

        var declaredAxes = c.Ints("axes")?.Select(a => RuleContext.Axis(a, rank)).ToArray()
                           ?? Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
        var full = Enumerable.Repeat(1.0, rank).ToArray();
        for (var i = 0; i < declaredAxes.Length; i++)
        {
            full[declaredAxes[i]] = scales[i];
        }

        return full;
    }

    /// <summary>Multiplies <paramref name="x"/> along <paramref name="axis"/> by W_a (the forward resize): length in → out.</summary>
    internal static string ApplyForward(RuleContext c, string x, long[] shape, int axis, double[] w, long inLength, long outLength)
    {
        // W_a is [out, in]; its transpose [in, out] is what ApplyTransposed expects for the reverse direction.
        var wt = new double[w.Length];
        for (var o = 0; o < outLength; o++)
        {
            for (var i = 0; i < inLength; i++)
            {
                wt[(i * outLength) + o] = w[(o * inLength) + i];
            }
        }

        return ApplyTransposed(c, x, shape, axis, wt, outLength, inLength);
    }

    /// <summary>Multiplies <paramref name="g"/> along <paramref name="axis"/> by W_aᵀ: length out → in.</summary>
    private static string ApplyTransposed(RuleContext c, string g, long[] shape, int axis, double[] w, long inLength, long outLength)
    {
        var b = c.B;
        var h = c.Hint;
        var before = shape.Take(axis).Aggregate(1L, (a, d) => a * d);
        var after = shape.Skip(axis + 1).Aggregate(1L, (a, d) => a * d);
        var result = (long[])shape.Clone();
        result[axis] = inLength;
        string product;
        if (after == 1)
        {
            var matrix = b.Floats(w, [outLength, inLength], h + "/resize_w");
            product = b.Op("MatMul", h, [b.Reshape(g, [before, outLength], h), matrix]);
        }
        else
        {
            var wt = new double[w.Length];
            for (var x = 0; x < outLength; x++)
            {
                for (var i = 0; i < inLength; i++)
                {
                    wt[(i * outLength) + x] = w[(x * inLength) + i];
                }
            }

            var matrix = b.Floats(wt, [inLength, outLength], h + "/resize_wt");
            product = b.Op("MatMul", h, [matrix, b.Reshape(g, [before, outLength, after], h)]);
        }

        return b.Reshape(product, result, h);
    }
}
