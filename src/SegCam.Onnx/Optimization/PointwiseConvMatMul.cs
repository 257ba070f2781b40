using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Optimization;

/// <summary>
/// An engine-added 2-D 1×1 convolution whose output channels ORT would pad to a whole NCHWc block, on an input that is in
/// NCHW anyway (typically the gradient of a segmentation head: classes → the last decoder level's channels), as one
/// MatMul of the weight [C_out, C_in] with the input seen as [N, C_in, H·W]. ORT's blocked convolution writes the padded
/// channels and then needs a reorder back to NCHW for every reader; the MatMul writes the C_out real channels in NCHW
/// once (measured for 3 → 8 channels, 8×256×256, 2-core VM: 1.2 ms against 1.8 ms for the convolution + 2.3 ms for the
/// reorder). The same sums of products, in MLAS's GEMM instead of its convolution kernel.
/// </summary>
internal static class PointwiseConvMatMul
{
    /// <summary>The replacement nodes for <paramref name="conv"/>, or null when it is not such a convolution.</summary>
    public static List<NodeProto>? Rewrite(GraphIndex index, GraphBuilder b, NodeProto conv, NchwcPrediction prediction, long block)
    {
        if (NodeAttributes.EngineConvWeight(index, conv) is not { Dims: [var outputs, var inputs, 1, 1] } weight
            || outputs % block == 0 || NodeAttributes.Ints(conv, "strides").Any(s => s != 1)
            || NodeAttributes.Ints(conv, "pads").Any(p => p != 0) || prediction.IsBlocked(conv.Input[0]))
        {
            return null;
        }

        double[]? bias = null;
        if (conv.Input.Count > 2 && conv.Input[2].Length > 0)
        {
            if (index.Initializer(conv.Input[2]) is not { DataType: TensorValues.Float } biasTensor)
            {
                return null;
            }

            bias = TensorValues.ToDoubles(biasTensor);
        }

        const string h = "nchwc/pointwise";
        var nodes = new List<NodeProto>();
        string Add(string op, IEnumerable<string> operands, params AttributeProto[] attributes)
        {
            var name = b.Op(op, h, operands, attributes);
            nodes.Add(GraphSplice.Detach(b));
            return name;
        }

        var x = conv.Input[0];
        var rows = Add("Reshape", [x, b.Ints(0, inputs, -1)]);
        var product = Add("MatMul", [b.Floats(TensorValues.ToDoubles(weight), [outputs, inputs], h + "/w"), rows]);
        if (bias is not null)
        {
            product = Add("Add", [product, b.Floats(bias, [outputs, 1], h + "/b")]);
        }

        // [N, C_out, H, W] from the input's own N, H, W (ORT folds the Shape of a static tensor to a constant).
        var shape = Add("Shape", [x]);
        var batch = Add("Slice", [shape, b.Ints(0), b.Ints(1), b.Ints(0)]);
        var spatial = Add("Slice", [shape, b.Ints(2), b.Ints(4), b.Ints(0)]);
        var target = Add("Concat", [batch, b.Ints(outputs), spatial], Attr.Int("axis", 0));
        var reshape = new NodeProto { OpType = "Reshape", Name = b.UniqueName("n/" + h + "/Reshape") };
        reshape.Input.AddRange([product, target]);
        reshape.Output.Add(conv.Output[0]);
        nodes.Add(reshape);
        return nodes;
    }
}
