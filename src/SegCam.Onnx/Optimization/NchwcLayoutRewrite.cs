using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Optimization;

/// <summary>
/// Rewrites backward-pass patterns of a float32 graph for ONNX Runtime's CPU provider: into ops its NCHWc layout
/// transformer keeps in its blocked layout, so the reverse sweep runs from convolution to convolution without
/// reordering every tensor to NCHW and back, and where it cannot, into faster NCHW forms (README, Benchmarks):
/// <list type="bullet">
/// <item>ReLU masks <c>Sign(y)</c> of a Relu output y (the ReLU rule's dX = dY·Sign(Y)) become
/// <c>Clip(DepthwiseConv1x1(y, 2^127), 0, 1)</c>: 2^127·y is ≥ 1 (or +∞) for every positive normal float and 0 for
/// y = 0, so the clipped mask equals Sign(y) for y ≥ 0 (only subnormal y, below 2^-126, would give a fraction).</item>
/// <item>Other ReLU masks <c>Sign(y)</c> (channel counts ORT cannot block, e.g. an 8-channel level on AVX-512) become
/// <c>Cast(Cast(y, bool), float)</c>: exactly 1 for every y &gt; 0 (subnormals included) and 0 for y = 0, and about a
/// quarter of the time of ORT's CPU Sign kernel, which is not vectorised (measured: 1.1 vs 3.8 ms for 8×8×256×256).</item>
/// <item>The MaxPool gradient's zero fill + ScatterElements becomes one MaxUnpool (see <see cref="MaxPoolRouting.Unpool"/>), its
/// output's dims declared (ONNX shape inference cannot know them; ORT needs them to keep the masks below it blocked), and a
/// 2-D pool's Indices come from SpaceToDepth + ArgMax instead of MaxPool (see <see cref="MaxPoolRouting.FirstMaxIndices"/>).</item>
/// <item>A Conv whose output is read only by channel Slices (the gradient of a Concat) becomes one Conv per slice, with
/// the slice's rows of the weight and bias — the same sums per output channel, with no Slice in between.</item>
/// <item>Two engine-added convolutions in a row (possibly through a channel Slice), the second strided, become one
/// convolution on the coarse grid when that takes fewer multiply-adds (see <see cref="ConvComposition"/>).</item>
/// <item>An engine-added 1×1 convolution whose width ORT would pad to a block becomes a MatMul (see
/// <see cref="PointwiseConvMatMul"/>).</item>
/// </list>
/// The composition and the MatMul touch only convolutions the engine added (names under <see cref="GraphBuilder.Prefix"/>): the
/// model's own forward pass runs as ONNX Runtime would run the model alone.
/// Only opset-11+ graphs are touched (all the engine builds: older models are upgraded on load); the results equal
/// the original graph's up to summation order (the masks and the routing exactly).
/// </summary>
public static class NchwcLayoutRewrite
{
    private const float MaskScale = 1.7014118346046923e38f; // 2^127
    private const long ChannelBlock = 16;

    /// <summary>Rewrites <paramref name="graph"/> in place; returns how many patterns were rewritten.</summary>
    /// <param name="graph">A float32 graph.</param>
    /// <param name="opset">The default-domain opset; below 11 the graph is left alone.</param>
    /// <param name="shapeOf">Known shapes of tensors (the probe of the forward model); null when unknown.</param>
    public static int Apply(GraphProto graph, int opset, Func<string, long[]?> shapeOf)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(shapeOf);
        if (opset < OpsetUpgrade.Target)
        {
            return 0;
        }

        // Slices first: whether a ReLU mask's partner stays blocked depends on the Convs that replace them.
        var outputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var rewritten = GraphSplice.Replace(graph, opset, (index, builder, node, replacements) =>
        {
            if (node.OpType != "Conv" || SlicedConv(index, node, outputs) is not { } slices)
            {
                return false;
            }

            replacements[node] = [];
            foreach (var (slice, start, end) in slices)
            {
                replacements[slice] = [SliceOfConv(builder, node, index, slice, start, end)];
            }

            return true;
        });
        rewritten += GraphSplice.Replace(graph, opset, (index, builder, node, replacements) =>
        {
            if (ConvComposition.Find(index, builder, node, outputs, replacements.ContainsKey) is not { } composition)
            {
                return false;
            }

            replacements[composition.Second] = [composition.Composed];
            replacements[composition.First] = composition.FirstInstead is { } narrowed ? [narrowed] : [];
            foreach (var removed in composition.Removed)
            {
                replacements[removed] = [];
            }

            return true;
        });
        rewritten += GraphSplice.Replace(graph, opset, (index, _, node, replacements) =>
        {
            if (node.OpType != "Reshape" || MaxPoolRouting.Unpool(index, node) is not { } scatter)
            {
                return false;
            }

            foreach (var dead in scatter.Dead)
            {
                replacements[dead] = [];
            }

            replacements[node] = [scatter.Unpool];
            if (TensorValues.ToLongs(index.Initializer(node.Input[1])!) is var dims && dims.All(d => d > 0))
            {
                DeclareShape(graph, node.Output[0], dims); // (a Reshape's 0 or -1 is no dim to declare)
            }

            return true;
        });
        rewritten += GraphSplice.Replace(graph, opset, (index, builder, node, replacements) =>
        {
            if (node.OpType != "MaxUnpool" || MaxPoolRouting.FirstMaxIndices(index, builder, node, shapeOf, opset) is not { } replaced)
            {
                return false;
            }

            replacements[node] = replaced.Nodes;
            replacements[replaced.Pool] = replaced.PoolInstead;
            return true;
        });
        NchwcPrediction? layout = null; // one per pass: it remembers what it has worked out
        rewritten += GraphSplice.Replace(graph, opset, (index, builder, node, replacements) =>
        {
            layout ??= new NchwcPrediction(index, shapeOf, ChannelBlock);
            if (PointwiseConvMatMul.Rewrite(index, builder, node, layout, ChannelBlock) is not { } matMul)
            {
                return false;
            }

            replacements[node] = matMul;
            return true;
        });
        NchwcPrediction? prediction = null;
        return rewritten + GraphSplice.Replace(graph, opset, (index, builder, node, replacements) =>
        {
            if (node.OpType != "Sign" || !IsReluMask(index, node))
            {
                return false;
            }

            // A blocked mask only pays when the gradient it multiplies is blocked too; next to an NCHW gradient (after
            // a MaxPool's scatter, say) its reorder back to NCHW would cost more than the Cast pair.
            prediction ??= new NchwcPrediction(index, shapeOf, ChannelBlock);
            replacements[node] = BlockedChannels(node, shapeOf) is { } channels && Partners(index, node).All(prediction.IsBlocked)
                ? ReluMask(builder, node, channels)
                : CastMask(builder, node);
            return true;
        });
    }

    /// <summary>
    /// Declares a MaxUnpool output's dims, which ONNX shape inference leaves unknown when output_shape is an input. ORT's
    /// NCHWc transformer keeps an element-wise Mul blocked only when it can show both operands have equal dims; without
    /// this, every ReLU mask below a pool's gradient (the gradient passed through the unpool) was reordered to NCHW and back
    /// (three reorders per encoder level: ≈ 2 ms of the U-Net's 250 at encoder level 1 on the 2-core VM).
    /// </summary>
    private static void DeclareShape(GraphProto graph, string tensor, long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        graph.ValueInfo.Add(new ValueInfoProto { Name = tensor, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = TensorValues.Float, Shape = shape } } });
    }

    /// <summary>The tensors a ReLU mask multiplies: the other input of each Mul that reads it (none for other readers).</summary>
    private static IEnumerable<string> Partners(GraphIndex index, NodeProto sign) =>
        index.Consumers(sign.Output[0]).Select(c => c.OpType == "Mul" && c.Input.Count == 2
            ? (c.Input[0] == sign.Output[0] ? c.Input[1] : c.Input[0])
            : string.Empty);

    /// <summary>Whether <paramref name="sign"/> is Sign(y) of a Relu output y (so y ≥ 0 and Sign(y) is a 0/1 mask).</summary>
    private static bool IsReluMask(GraphIndex index, NodeProto sign) =>
        sign.Input.Count == 1 && sign.Output.Count == 1 && index.Producer(sign.Input[0]) is { OpType: "Relu" };

    /// <summary>The channel count of a ReLU mask's input when ORT can keep a depthwise Conv on it blocked; else null.</summary>
    private static long? BlockedChannels(NodeProto sign, Func<string, long[]?> shapeOf)
    {
        // ORT blocks channels by 8 (AVX2) or 16 (AVX-512) and leaves a depthwise Conv of other channel counts in NCHW,
        // where the mask Conv would cost more than the Sign it replaces.
        return shapeOf(sign.Input[0]) is { Length: 4 } shape && shape[1] > 0 && shape[1] % ChannelBlock == 0 ? shape[1] : null;
    }

    private static List<NodeProto> ReluMask(GraphBuilder b, NodeProto sign, long channels)
    {
        var weight = b.Initializer(TensorValues.FromFloats(string.Empty, Enumerable.Repeat(MaskScale, (int)channels).ToArray(), channels, 1, 1, 1), "nchwc/relu_mask_scale");
        var scaled = b.Op("Conv", "nchwc/relu_mask", [sign.Input[0], weight], Attr.Ints("kernel_shape", [1, 1]), Attr.Int("group", channels));
        var conv = GraphSplice.Detach(b);
        var clip = new NodeProto { OpType = "Clip", Name = b.UniqueName("n/nchwc/relu_mask/Clip") };
        clip.Input.AddRange([scaled, b.Scalar(0), b.Scalar(1)]);
        clip.Output.Add(sign.Output[0]);
        return [conv, clip];
    }

    private static List<NodeProto> CastMask(GraphBuilder b, NodeProto sign)
    {
        var nonzero = b.Cast(sign.Input[0], TensorValues.Bool, "nchwc/relu_mask_nonzero");
        var toBool = GraphSplice.Detach(b);
        var toFloat = new NodeProto { OpType = "Cast", Name = b.UniqueName("n/nchwc/relu_mask/Cast") };
        toFloat.Input.Add(nonzero);
        toFloat.Output.Add(sign.Output[0]);
        toFloat.Attribute.Add(Attr.Int("to", TensorValues.Float));
        return [toBool, toFloat];
    }

    private static List<(NodeProto Slice, long Start, long End)>? SlicedConv(GraphIndex index, NodeProto conv, HashSet<string> outputs)
    {
        if (conv.Input.Count < 2 || conv.Output.Count != 1 || outputs.Contains(conv.Output[0])
            || conv.Attribute.Any(a => a.Name == "group" && a.I != 1)
            || index.Initializer(conv.Input[1]) is not { DataType: TensorValues.Float, Dims.Count: 4 } weight
            || (conv.Input.Count > 2 && conv.Input[2].Length > 0 && index.Initializer(conv.Input[2]) is not { DataType: TensorValues.Float }))
        {
            return null;
        }

        var consumers = index.Consumers(conv.Output[0]);
        if (consumers.Count == 0)
        {
            return null;
        }

        var channels = weight.Dims[0];
        var result = new List<(NodeProto, long, long)>();
        foreach (var slice in consumers)
        {
            // Each part must be whole channel blocks: narrower parts stay in NCHW anyway, and splitting their Conv
            // would only read its input once per part.
            if (slice.OpType != "Slice" || slice.Input[0] != conv.Output[0] || ChannelRange(index, slice, channels) is not { } range
                || (range.End - range.Start) % ChannelBlock != 0)
            {
                return null;
            }

            result.Add((slice, range.Start, range.End));
        }

        return result;
    }

    /// <summary>[start, end) of a Slice that takes a step-1 range of axis 1 and nothing else; null otherwise.</summary>
    internal static (long Start, long End)? ChannelRange(GraphIndex index, NodeProto slice, long channels)
    {
        long[]? Constant(int i) => i < slice.Input.Count && slice.Input[i].Length > 0
            ? index.Initializer(slice.Input[i]) is { } t ? TensorValues.ToLongs(t) : null
            : [];
        var (starts, ends, axes, steps) = (Constant(1), Constant(2), Constant(3), Constant(4));
        if (starts is not { Length: 1 } || ends is not { Length: 1 } || axes is not [1 or -3]
            || steps is null || (steps.Length > 0 && steps is not [1]))
        {
            return null;
        }

        static long Clamp(long v, long n) => Math.Clamp(v < 0 ? v + n : v, 0, n);
        var (start, end) = (Clamp(starts[0], channels), Clamp(ends[0], channels));
        return end > start ? (start, end) : null;
    }

    private static NodeProto SliceOfConv(GraphBuilder b, NodeProto conv, GraphIndex index, NodeProto slice, long start, long end)
    {
        var weight = index.Initializer(conv.Input[1])!;
        var perChannel = weight.Dims.Skip(1).Aggregate(1L, (a, d) => a * d);
        var rows = TensorValues.ToDoubles(weight).AsSpan((int)(start * perChannel), (int)((end - start) * perChannel));
        var inputs = new List<string> { conv.Input[0], b.Floats(rows, [end - start, .. weight.Dims.Skip(1)], "nchwc/conv_rows") };
        if (conv.Input.Count > 2 && conv.Input[2].Length > 0)
        {
            var bias = TensorValues.ToDoubles(index.Initializer(conv.Input[2])!).AsSpan((int)start, (int)(end - start));
            inputs.Add(b.Floats(bias, [end - start], "nchwc/conv_rows_bias"));
        }

        var node = new NodeProto { OpType = "Conv", Name = b.UniqueName("n/nchwc/" + conv.Name) };
        node.Input.AddRange(inputs);
        node.Output.Add(slice.Output[0]);
        node.Attribute.AddRange(conv.Attribute.Select(a => a.Clone()));
        return node;
    }
}
