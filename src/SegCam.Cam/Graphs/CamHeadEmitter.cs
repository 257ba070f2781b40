using SegCam.Cam.Methods;
using SegCam.Onnx.Graph;

namespace SegCam.Cam.Graphs;

/// <summary>
/// Emits every gradient-based CAM of METHODS.md §2 from A and G = dS/dA (both [N,K,spatial′]) as raw maps
/// [N,1,spatial′]; all methods share the one forward and backward pass. <paramref name="nonNegative"/> says A ≥ 0
/// everywhere (a Relu or Sigmoid output), where relu(G)·A = relu(G·A) exactly.
/// </summary>
internal sealed class CamHeadEmitter(GraphBuilder b, string a, string g, long[] shape, CamOptions options, bool nonNegative = false)
{
    private readonly long[] _spatialAxes = Enumerable.Range(2, shape.Length - 2).Select(i => (long)i).ToArray();
    private readonly long _positions = shape.Skip(2).Aggregate(1L, (p, d) => p * d);
    private string? _gradTimesAct;
    private string? _positiveGrad;
    private string? _activationSums;

    // Shared by several methods, so each is computed once per layer.
    private string GradTimesAct => _gradTimesAct ??= b.Mul(g, a, "cam/ga");

    private string PositiveGrad => _positiveGrad ??= b.Op("Relu", "cam/relu_g", [g]);

    private string ActivationSums => _activationSums ??= b.ReduceSum(a, _spatialAxes, keepDims: true, "cam/sum_a");

    /// <summary>The raw maps [N,1,spatial′] of <paramref name="methods"/> (gradient methods only).</summary>
    /// <remarks>
    /// The channel-weighted methods (Grad-CAM, Grad-CAM++, XGrad-CAM) share one batched MatMul of their stacked
    /// weights [N,M,K] with A as [N,K,positions], which reads A once instead of writing w_k·A_k per method.
    /// </remarks>
    public Dictionary<CamMethod, string> EmitAll(IReadOnlyList<CamMethod> methods)
    {
        var maps = new Dictionary<CamMethod, string>();
        var weighted = new List<(CamMethod Method, string Weights)>();
        foreach (var method in methods)
        {
            switch (method)
            {
                case CamMethod.SegGradCam:
                    weighted.Add((method, b.ReduceMean(g, _spatialAxes, keepDims: true, "cam/gradcam")));
                    break;
                case CamMethod.SegGradCamPlusPlus:
                    weighted.Add((method, PlusPlusWeights()));
                    break;
                case CamMethod.SegXGradCam:
                    weighted.Add((method, XGradWeights()));
                    break;
                case CamMethod.SegHiResGradCam:
                    maps[method] = ChannelSum(GradTimesAct);
                    break;
                case CamMethod.SegXResCam:
                    maps[method] = XResMap();
                    break;
                case CamMethod.SegLayerCam:
                    // With A ≥ 0, relu(G·A) reuses G·A (shared with Hi-Res and XGrad): one pass instead of a product.
                    maps[method] = ChannelSum(nonNegative ? b.Op("Relu", "cam/layer", [GradTimesAct]) : b.Mul(PositiveGrad, a, "cam/layer"));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(methods), method, "not a gradient method");
            }
        }

        if (weighted.Count > 0)
        {
            const string h = "cam/weighted";
            long n = shape[0], k = shape[1], m = weighted.Count;
            var stacked = m == 1
                ? b.Reshape(weighted[0].Weights, [n, 1, k], h)
                : b.Op("Concat", h, weighted.Select(w => b.Reshape(w.Weights, [n, 1, k], h)), Attr.Int("axis", 1));
            var product = b.Op("MatMul", h, [stacked, b.Reshape(a, [n, k, _positions], h)]);
            long[] mapShape = [n, 1, .. shape[2..]];
            for (var i = 0; i < m; i++)
            {
                var row = m == 1 ? product : b.Slice(product, [i], [i + 1], [1], hint: h);
                maps[weighted[i].Method] = b.Reshape(row, mapShape, h);
            }
        }

        return maps;
    }

    private string ChannelSum(string x) => b.ReduceSum(x, [1], keepDims: true, "cam/sum");

    // w_k = Σ_p R(G)·α with α = G² / (2G² + s_k·G³ + 1e-6), α = 0 where G = 0 (pytorch-grad-cam closed form).
    // Only G > 0 contributes, so with t = relu(G) the term is t³ / (t²·(2 + s_k·t) + 1e-6), which is 0 where t = 0.
    // It runs in the graph's precision, as pytorch-grad-cam computes it in the gradient's dtype; where s_k·t nearly
    // cancels 2 (pre-activation layers), float32 amplifies the rounding of G itself, and --precision float64 is the cure.
    private string PlusPlusWeights()
    {
        const string h = "cam/gradcampp";
        var t = PositiveGrad;
        var t2 = b.Mul(t, t, h);
        var denominator = b.Add(b.Mul(t2, b.Add(b.Mul(ActivationSums, t, h), b.Scalar(2), h), h), b.Scalar(1e-6), h);
        return b.ReduceSum(b.Div(b.Mul(t2, t, h), denominator, h), _spatialAxes, keepDims: true, h);
    }

    // w_k = Σ_p G·A / (Σ_p A + 1e-7).
    private string XGradWeights()
    {
        const string h = "cam/xgrad";
        var numerator = b.ReduceSum(GradTimesAct, _spatialAxes, keepDims: true, h);
        return b.Div(numerator, b.Add(ActivationSums, b.Scalar(1e-7), h), h);
    }

    // Σ_k Gup_k · A_k, where Gup gives every voxel its window's pooled G: a nearest Resize by the integer factor w
    // (asymmetric coordinates, floor: source index = ⌊i / w⌋), cropped when a size is not a multiple of w.
    private string XResMap()
    {
        const string h = "cam/xres";
        var w = options.XResWindow;
        if (w == 1)
        {
            return ChannelSum(GradTimesAct);
        }

        var dims = _spatialAxes.Length;
        var spatial = shape[2..];
        var windows = spatial.Select(n => (n + w - 1) / w).ToArray();
        var tiled = windows.Select(o => o * w).SequenceEqual(spatial);
        var pooled = tiled && options.Precision == CamPrecision.Float32 && dims <= 3
            ? PoolingOp(w, dims)
            : b.Reshape(PooledGradient(windows), [shape[0], shape[1], .. windows], h);
        float[] factors = [1, 1, .. Enumerable.Repeat((float)w, dims)];
        var scales = b.Initializer(Onnx.Model.TensorValues.FromFloats(string.Empty, factors, dims + 2), h + "/scales");
        var roi = b.Opset >= 13 ? string.Empty : b.Initializer(Onnx.Model.TensorValues.FromFloats(string.Empty, ReadOnlySpan<float>.Empty, 0), h + "/roi");
        var up = b.Op("Resize", h, [pooled, roi, scales],
            Attr.Str("mode", "nearest"), Attr.Str("coordinate_transformation_mode", "asymmetric"), Attr.Str("nearest_mode", "floor"));
        if (!tiled)
        {
            up = b.Slice(up, new long[dims], spatial, _spatialAxes, hint: h);
        }

        return ChannelSum(b.Mul(up, a, h));
    }

    // When every axis is a multiple of w, a float32 graph pools G with MaxPool/AveragePool (kernel = stride = w): ONNX
    // Runtime's pooling kernels are vectorised, where a ReduceSum over the strided window axes of the reshaped G is
    // not (5.0 vs 2.2 ms for 8×8×256×256 in the CAM graph on the 2-core VM). ORT's CPU AveragePool is float32 only, so float64 graphs
    // keep the reshape form below.
    private string PoolingOp(long w, int dims)
    {
        var window = Enumerable.Repeat(w, dims).ToArray();
        return b.Op(options.XResPool == XResPool.Max ? "MaxPool" : "AveragePool", "cam/xres", [g],
            Attr.Ints("kernel_shape", window), Attr.Ints("strides", window));
    }

    // Pool G over non-overlapping windows of w voxels per axis (a partial last window pools its real members):
    // returns the pooled values as [N,K,o1,1,o2,1,…].
    private string PooledGradient(long[] windows)
    {
        const string h = "cam/xres";
        var w = options.XResWindow;
        var dims = _spatialAxes.Length;
        var spatial = shape[2..];
        var padded = new long[2 * shape.Length];
        for (var i = 0; i < dims; i++)
        {
            padded[shape.Length + 2 + i] = (windows[i] * w) - spatial[i];
        }

        var max = options.XResPool == XResPool.Max;
        var gp = padded.Any(p => p != 0) ? b.Pad(g, padded, max ? double.NegativeInfinity : 0.0, h) : g;
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
        if (max)
        {
            return b.ReduceMax(grouped, [.. windowAxes], keepDims: true, h);
        }

        var sums = b.ReduceSum(grouped, [.. windowAxes], keepDims: true, h);
        var inverseCounts = InverseCounts(spatial, windows, w);
        return b.Mul(sums, b.Floats(inverseCounts, [1, 1, .. blocked.Skip(2)], h + "/counts"), h);
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
