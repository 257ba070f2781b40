using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Optimization;

/// <summary>
/// Two engine-added 2-D convolutions in a row, C2(C1(x)), with nothing between them but possibly a channel Slice of C1's
/// output, as one convolution of x when that takes fewer multiply-adds — in a U-Net's backward pass, C1 is the gradient
/// of a decoder convolution (its rows for the up-sampled half of the skip concatenation) and C2 the gradient of the
/// ConvTranspose that up-sampled it: a strided convolution, so the composition runs on the coarse grid.
/// </summary>
/// <remarks>
/// For C1 with kernel k₁, stride 1 and pads (b, e), and C2 with kernel k₂, stride s and no padding, per spatial axis:
/// C2(C1(x))[q] = Σ_o W₂[o] Σ_d W₁[d] x[s·q + o + d − b] = Σ_t K[t] x[s·q + t − b] with K[t] = Σ_{o+d=t} W₂[o]·W₁[d]
/// (channel sums inside), a convolution with kernel k₁ + k₂ − 1, stride s and C1's pads: it reads exactly the values
/// (and zero padding) C1 read, and has C2's output size. The same sums of products, grouped differently.
/// On the benchmark U-Net at encoder level 1 it removes the 256×256 gradient's channel Split and a reorder, and runs
/// each ConvTranspose gradient with its Concat gradient on the coarse grid (≈ 9 ms of 245 on the 2-core VM, with
/// <see cref="PointwiseConvMatMul"/>; ORT profile).
/// </remarks>
internal static class ConvComposition
{
    /// <summary>What replaces what: the composed convolution takes C2's place; C1 is removed, or narrowed to the rows
    /// of the one other Slice that read it (which it then replaces); the Slices in between are removed.</summary>
    public sealed record Rewrite(NodeProto Second, NodeProto Composed, NodeProto First, NodeProto? FirstInstead, NodeProto[] Removed);

    /// <summary>The composition ending in <paramref name="second"/>, or null when there is none or it would not pay.</summary>
    /// <param name="index">The graph.</param>
    /// <param name="b">Builds the composed weights.</param>
    /// <param name="second">A candidate C2.</param>
    /// <param name="outputs">The graph's outputs (never removed).</param>
    /// <param name="taken">Whether a node is already being rewritten.</param>
    public static Rewrite? Find(GraphIndex index, GraphBuilder b, NodeProto second, HashSet<string> outputs, Func<NodeProto, bool> taken)
    {
        if (Weights(index, second) is not { } w2 || NodeAttributes.Ints(second, "pads").Any(p => p != 0) || outputs.Contains(second.Input[0])
            || index.Consumers(second.Input[0]).Count != 1 || index.Producer(second.Input[0]) is not { } producer)
        {
            return null;
        }

        NodeProto first;
        long start;
        var removed = new List<NodeProto>();
        NodeProto? other = null;
        (long Start, long End) otherRows = default;
        if (producer.OpType == "Conv")
        {
            first = producer;
            start = 0;
        }
        else if (producer.OpType == "Slice" && index.Producer(producer.Input[0]) is { OpType: "Conv" } sliced
                 && Weights(index, sliced) is { } sw && NchwcLayoutRewrite.ChannelRange(index, producer, sw.Dims[0]) is { } range
                 && range.End - range.Start == w2.Dims[1])
        {
            // C1 read only by channel Slices: this one, and at most one other, which keeps C1's rows it takes.
            first = sliced;
            start = range.Start;
            removed.Add(producer);
            foreach (var reader in index.Consumers(first.Output[0]).Where(r => !ReferenceEquals(r, producer)))
            {
                if (other is not null || reader.OpType != "Slice" || reader.Input[0] != first.Output[0] || outputs.Contains(reader.Output[0])
                    || NchwcLayoutRewrite.ChannelRange(index, reader, sw.Dims[0]) is not { } kept)
                {
                    return null;
                }

                (other, otherRows) = (reader, kept);
                removed.Add(reader);
            }
        }
        else
        {
            return null;
        }

        if (Weights(index, first) is not { } w1 || NodeAttributes.Ints(first, "strides").Any(s => s != 1) || outputs.Contains(first.Output[0])
            || taken(first) || removed.Any(taken) || w1.Dims[0] < start + w2.Dims[1])
        {
            return null;
        }

        var (outputs2, rows, inputs1) = (w2.Dims[0], w2.Dims[1], w1.Dims[1]);
        long[] k1 = [w1.Dims[2], w1.Dims[3]], k2 = [w2.Dims[2], w2.Dims[3]];
        var strides = NodeAttributes.Ints(second, "strides").ToArray() is { Length: 2 } s ? s : [1, 1];
        long[] kc = [k1[0] + k2[0] - 1, k1[1] + k2[1] - 1];
        var composedCost = outputs2 * inputs1 * kc[0] * kc[1];
        var separateCost = (strides[0] * strides[1] * rows * inputs1 * k1[0] * k1[1]) + (outputs2 * rows * k2[0] * k2[1]);
        if (composedCost >= separateCost)
        {
            return null;
        }

        var w1Values = TensorValues.ToDoubles(w1);
        var kernel = ComposedKernel(w1Values, TensorValues.ToDoubles(w2), start, inputs1, outputs2, rows, k1, k2, kc);
        var composed = new NodeProto { OpType = "Conv", Name = b.UniqueName("n/nchwc/composed/" + second.Name) };
        composed.Input.AddRange([first.Input[0], b.Floats(kernel, [outputs2, inputs1, kc[0], kc[1]], "nchwc/composed_w")]);
        composed.Output.Add(second.Output[0]);
        composed.Attribute.AddRange([Attr.Ints("kernel_shape", kc), Attr.Ints("strides", strides)]);
        if (first.Attribute.FirstOrDefault(a => a.Name == "pads") is { } pads)
        {
            composed.Attribute.Add(pads.Clone());
        }

        NodeProto? narrowed = null;
        if (other is not null)
        {
            var perRow = inputs1 * k1[0] * k1[1];
            var kept = w1Values.AsSpan((int)(otherRows.Start * perRow), (int)((otherRows.End - otherRows.Start) * perRow));
            narrowed = first.Clone();
            narrowed.Name = b.UniqueName("n/nchwc/narrowed/" + first.Name);
            narrowed.Input[1] = b.Floats(kept, [otherRows.End - otherRows.Start, inputs1, k1[0], k1[1]], "nchwc/narrowed_w");
            narrowed.Output[0] = other.Output[0];
        }

        return new Rewrite(second, composed, first, narrowed, [.. removed]);
    }

    /// <summary>The weight of an engine-added plain Conv without bias; else null.</summary>
    private static TensorProto? Weights(GraphIndex index, NodeProto conv) =>
        conv.Input.Count == 2 || (conv.Input.Count > 2 && conv.Input[2].Length == 0) ? NodeAttributes.EngineConvWeight(index, conv) : null;

    // K[co, ci, t] = Σ_m Σ_{o + d = t} W₂[co, m, o] · W₁[start + m, ci, d], in double, per 2-D offset t.
    private static double[] ComposedKernel(double[] w1, double[] w2, long start, long inputs, long outputs, long rows, long[] k1, long[] k2, long[] kc)
    {
        var result = new double[outputs * inputs * kc[0] * kc[1]];
        for (var co = 0L; co < outputs; co++)
        {
            for (var m = 0L; m < rows; m++)
            {
                for (var oy = 0L; oy < k2[0]; oy++)
                {
                    for (var ox = 0L; ox < k2[1]; ox++)
                    {
                        var a = w2[(((co * rows) + m) * k2[0] * k2[1]) + (oy * k2[1]) + ox];
                        if (a == 0)
                        {
                            continue;
                        }

                        for (var ci = 0L; ci < inputs; ci++)
                        {
                            var row = (((start + m) * inputs) + ci) * k1[0] * k1[1];
                            var target = ((co * inputs) + ci) * kc[0] * kc[1];
                            for (var dy = 0L; dy < k1[0]; dy++)
                            {
                                for (var dx = 0L; dx < k1[1]; dx++)
                                {
                                    result[target + ((oy + dy) * kc[1]) + ox + dx] += a * w1[row + (dy * k1[1]) + dx];
                                }
                            }
                        }
                    }
                }
            }
        }

        return result;
    }
}
