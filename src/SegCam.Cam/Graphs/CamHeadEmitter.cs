using SegCam.Cam.Methods;
using SegCam.Onnx.Graph;

namespace SegCam.Cam.Graphs;

/// <summary>
/// Emits every gradient-based CAM of METHODS.md §2 from A and G = dS/dA (both [N,K,spatial′]) as raw maps
/// [N,1,spatial′]; all methods share the one forward and backward pass.
/// </summary>
internal sealed class CamHeadEmitter(GraphBuilder b, string a, string g, long[] shape, CamOptions options)
{
    private readonly long[] _spatialAxes = Enumerable.Range(2, shape.Length - 2).Select(i => (long)i).ToArray();
    private string? _gradTimesAct;

    private string GradTimesAct => _gradTimesAct ??= b.Mul(g, a, "cam/ga");

    /// <summary>The raw map of <paramref name="method"/>.</summary>
    public string Emit(CamMethod method) => method switch
    {
        CamMethod.SegGradCam => Weighted(b.ReduceMean(g, _spatialAxes, keepDims: true, "cam/gradcam")),
        CamMethod.SegHiResGradCam => ChannelSum(GradTimesAct),
        CamMethod.SegXResCam => ChannelSum(b.Mul(PooledGradient(), a, "cam/xres")),
        CamMethod.SegGradCamPlusPlus => Weighted(PlusPlusWeights()),
        CamMethod.SegXGradCam => Weighted(XGradWeights()),
        CamMethod.SegLayerCam => ChannelSum(b.Mul(b.Op("Relu", "cam/layer", [g]), a, "cam/layer")),
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "not a gradient method"),
    };

    private string ChannelSum(string x) => b.ReduceSum(x, [1], keepDims: true, "cam/sum");

    private string Weighted(string weights) => ChannelSum(b.Mul(weights, a, "cam/weighted"));

    // w_k = Σ_p R(G)·α with α = G² / (2G² + s_k·G³ + 1e-6), α = 0 where G = 0 (pytorch-grad-cam closed form).
    // Computed in float64: the denominator can nearly cancel (s_k < 0 on pre-activation layers) and float32 would amplify rounding.
    private string PlusPlusWeights()
    {
        const string h = "cam/gradcampp";
        var d = b.WithFloatType(Onnx.Model.TensorValues.Double);
        var g64 = d.Cast(g, Onnx.Model.TensorValues.Double, h);
        var s = d.ReduceSum(d.Cast(a, Onnx.Model.TensorValues.Double, h), _spatialAxes, keepDims: true, h);
        var g2 = d.Mul(g64, g64, h);
        var g3 = d.Mul(g2, g64, h);
        var denominator = d.Add(d.Add(d.Mul(g2, d.Scalar(2), h), d.Mul(s, g3, h), h), d.Scalar(1e-6), h);
        var alpha = d.Where(d.Op("Equal", h, [g64, d.Scalar(0)]), d.Scalar(0), d.Div(g2, denominator, h), h);
        var weights = d.ReduceSum(d.Mul(d.Op("Relu", h, [g64]), alpha, h), _spatialAxes, keepDims: true, h);
        return b.Cast(weights, Onnx.Model.TensorValues.Float, h);
    }

    // w_k = Σ_p G·A / (Σ_p A + 1e-7).
    private string XGradWeights()
    {
        const string h = "cam/xgrad";
        var numerator = b.ReduceSum(GradTimesAct, _spatialAxes, keepDims: true, h);
        var denominator = b.Add(b.ReduceSum(a, _spatialAxes, keepDims: true, h), b.Scalar(1e-7), h);
        return b.Div(numerator, denominator, h);
    }

    // Pool G over non-overlapping windows of w voxels per axis (a partial last window pools its real members),
    // then give every voxel its window's value.
    private string PooledGradient()
    {
        const string h = "cam/xres";
        var w = options.XResWindow;
        if (w == 1)
        {
            return g;
        }

        var dims = _spatialAxes.Length;
        var spatial = shape[2..];
        var windows = spatial.Select(n => (n + w - 1) / w).ToArray();
        var padded = new long[2 * shape.Length];
        for (var i = 0; i < dims; i++)
        {
            padded[shape.Length + 2 + i] = (windows[i] * w) - spatial[i];
        }

        var max = options.XResPool == XResPool.Max;
        var gp = b.Pad(g, padded, max ? double.NegativeInfinity : 0.0, h);
        var split = new List<long> { shape[0], shape[1] };
        var blocked = new List<long> { shape[0], shape[1] };
        var windowAxes = new List<long>();
        for (var i = 0; i < dims; i++)
        {
            split.Add(windows[i]);
            split.Add(w);
            blocked.Add(windows[i]);
            blocked.Add(1);
            windowAxes.Add(3 + (2 * i));
        }

        var grouped = b.Reshape(gp, [.. split], h);
        string pooled;
        if (max)
        {
            pooled = b.ReduceMax(grouped, [.. windowAxes], keepDims: true, h);
        }
        else
        {
            var sums = b.ReduceSum(grouped, [.. windowAxes], keepDims: true, h);
            var inverseCounts = InverseCounts(spatial, windows, w);
            pooled = b.Mul(sums, b.Floats(inverseCounts, [1, 1, .. blocked.Skip(2)], h + "/counts"), h);
        }

        var replicated = b.Reshape(b.Expand(pooled, [.. split], h), [shape[0], shape[1], .. windows.Select(o => o * w)], h);
        return b.Slice(replicated, new long[dims], spatial, _spatialAxes, hint: h);
    }

    private static double[] InverseCounts(long[] spatial, long[] windows, long w)
    {
        var total = windows.Aggregate(1L, (p, d) => p * d);
        var result = new double[total];
        for (var flat = 0L; flat < total; flat++)
        {
            var rest = flat;
            long count = 1;
            for (var a = spatial.Length - 1; a >= 0; a--)
            {
                var o = rest % windows[a];
                rest /= windows[a];
                count *= Math.Min(w, spatial[a] - (o * w));
            }

            result[flat] = 1.0 / count;
        }

        return result;
    }
}
