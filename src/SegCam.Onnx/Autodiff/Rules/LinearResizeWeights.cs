namespace SegCam.Onnx.Autodiff.Rules;

/// <summary>
/// The weights of a 'linear' Resize along one axis computed in float64, as PyTorch's bilinear/trilinear interpolation
/// computes them in double. ORT computes them in float32; the probed float32 matrix decides which input elements each
/// output mixes, and these exact values replace it only where both agree to float32 accuracy.
/// </summary>
internal static class LinearResizeWeights
{
    /// <summary>Largest difference accepted between the probed float32 weights and the float64 ones.</summary>
    private const double Agreement = 1e-5;

    /// <summary>
    /// Returns the float64 matrix [out, in] when the coordinate mode is one of the ONNX linear-mode rules and it matches
    /// <paramref name="probed"/>; otherwise <paramref name="probed"/> unchanged.
    /// </summary>
    public static double[] Refine(double[] probed, string coordinateMode, long inLength, long outLength, double? scale)
    {
        var s = scale ?? ((double)outLength / inLength);
        var exact = new double[probed.Length];
        for (var o = 0; o < outLength; o++)
        {
            if (Source(coordinateMode, o, s, inLength, outLength) is not { } x)
            {
                return probed;
            }

            x = Math.Clamp(x, 0, inLength - 1);
            var i0 = (long)Math.Floor(x);
            var lambda = x - i0;
            exact[(o * inLength) + i0] += 1 - lambda;
            if (i0 + 1 < inLength)
            {
                exact[(o * inLength) + i0 + 1] += lambda;
            }
        }

        for (var k = 0; k < exact.Length; k++)
        {
            if (Math.Abs(exact[k] - probed[k]) > Agreement)
            {
                return probed;
            }
        }

        return exact;
    }

    // Source coordinate of output index o (ONNX Resize, coordinate_transformation_mode), null for modes not handled.
    private static double? Source(string mode, long o, double scale, long inLength, long outLength) => mode switch
    {
        "half_pixel" => ((o + 0.5) / scale) - 0.5,
        "pytorch_half_pixel" => outLength > 1 ? ((o + 0.5) / scale) - 0.5 : 0,
        "align_corners" => outLength == 1 ? 0 : o * (inLength - 1) / (double)(outLength - 1),
        "asymmetric" => o / scale,
        "half_pixel_symmetric" => (inLength * (1 - (outLength / (scale * inLength))) / 2) + ((o + 0.5) / scale) - 0.5,
        _ => null,
    };
}
