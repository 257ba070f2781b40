using SegCam.Cam.Methods;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Cam.Graphs;

/// <summary>
/// Emits the binding post-processing order of METHODS.md §3 for a map shaped [N,1,spatial′]:
/// ReLU (if on) → resample to the input grid (if asked) → per-item normalisation; the output drops the channel axis.
/// Used inside the augmented model and, for Eigen-CAM, in a small stand-alone graph, so both paths share one definition.
/// </summary>
internal static class PostProcessEmitter
{
    public static string Emit(GraphBuilder b, string map, long[] mapShape, long[]? inputSpatial, CamOptions options, string hint)
    {
        var rank = mapShape.Length;
        var h = "cam/" + hint;
        var x = map;
        if (options.Relu)
        {
            x = b.Op("Relu", h, [x]);
        }

        if (options.Resolution == CamResolution.Input && inputSpatial is not null && !inputSpatial.AsSpan().SequenceEqual(mapShape.AsSpan(2)))
        {
            // Linear with half-pixel centres = bilinear/trilinear with align_corners=False; ORT clamps the source coordinate.
            long[] sizes = [mapShape[0], 1, .. inputSpatial];
            var inputs = b.Opset >= 13
                ? new[] { x, string.Empty, string.Empty, b.Ints(sizes) }
                : [x, b.Initializer(TensorValues.FromFloats(string.Empty, ReadOnlySpan<float>.Empty, 0), "roi"), b.Initializer(TensorValues.FromFloats(string.Empty, ReadOnlySpan<float>.Empty, 0), "scales"), b.Ints(sizes)];
            x = b.Op("Resize", h, inputs, Attr.Str("mode", "linear"), Attr.Str("coordinate_transformation_mode", "half_pixel"));
        }

        // The channel axis goes first, so the last op writes the caller's [N, spatial…] output itself (a Squeeze at the
        // end copied every map once more: ≈ 0.13 ms per map at 8×256×256 on the 2-core VM).
        x = b.Squeeze(x, [1], h);
        var axes = Enumerable.Range(1, rank - 2).Select(i => (long)i).ToArray();
        return options.Normalization switch
        {
            CamNormalization.None => x,
            // With ReLU every value is ≥ 0, so a maximum ≤ 0 means an all-zero map, which x / 1 leaves zero.
            CamNormalization.Max => Scale(b, x, b.ReduceMax(x, axes, keepDims: true, h), zeroWhereNotPositive: !options.Relu, h),
            CamNormalization.MaxAbs => Scale(b, x, b.ReduceMax(b.Op("Abs", h, [x]), axes, keepDims: true, h), zeroWhereNotPositive: false, h),
            CamNormalization.MinMax => MinMax(b, x, axes, h),
            _ => throw new ArgumentOutOfRangeException(nameof(options)),
        };
    }

    // H / d where d > 0, else 0 (never NaN). When d ≤ 0 can only mean H ≡ 0 (a zero range, a zero max|H|), H / 1 is
    // already that 0 and the last Where is left out.
    private static string Scale(GraphBuilder b, string x, string d, bool zeroWhereNotPositive, string h)
    {
        var positive = b.Greater(d, b.Scalar(0), h);
        var quotient = b.Div(x, b.Where(positive, d, b.Scalar(1), h), h);
        return zeroWhereNotPositive ? b.Where(positive, quotient, b.Scalar(0), h) : quotient;
    }

    private static string MinMax(GraphBuilder b, string x, long[] axes, string h)
    {
        var min = b.ReduceMin(x, axes, keepDims: true, h);
        var range = b.Sub(b.ReduceMax(x, axes, keepDims: true, h), min, h);
        return Scale(b, b.Sub(x, min, h), range, zeroWhereNotPositive: false, h); // a zero range leaves H − min ≡ 0
    }
}
