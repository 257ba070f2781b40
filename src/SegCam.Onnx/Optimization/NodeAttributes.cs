using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Optimization;

/// <summary>Reads the attributes of the nodes the layout rewrites combine or replace.</summary>
internal static class NodeAttributes
{
    /// <summary>An integer-list attribute; empty when absent (ONNX's default: all 1 or all 0, per attribute).</summary>
    public static IEnumerable<long> Ints(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name)?.Ints ?? Enumerable.Empty<long>();

    /// <summary>One group, no dilation, and explicit (or no) padding: a plain dense convolution.</summary>
    public static bool IsPlainConv(NodeProto conv)
    {
        var group = conv.Attribute.FirstOrDefault(a => a.Name == "group")?.I ?? 1;
        var autoPad = conv.Attribute.FirstOrDefault(a => a.Name == "auto_pad")?.S.ToStringUtf8() ?? "NOTSET";
        return group == 1 && autoPad is "NOTSET" or "" && Ints(conv, "dilations").All(d => d == 1);
    }

    /// <summary>
    /// The constant float [C_out, C_in, kh, kw] weight of a plain Conv the engine added (name under
    /// <see cref="GraphBuilder.Prefix"/>) with one output; null for any other node. The rewrites that use it touch
    /// only the backward pass, never the model's own convolutions.
    /// </summary>
    public static TensorProto? EngineConvWeight(GraphIndex index, NodeProto conv) =>
        conv.OpType == "Conv" && conv.Name.StartsWith(GraphBuilder.Prefix, StringComparison.Ordinal) && conv.Output.Count == 1
        && conv.Input.Count >= 2 && IsPlainConv(conv) && index.Initializer(conv.Input[1]) is { DataType: TensorValues.Float, Dims.Count: 4 } weight
            ? weight
            : null;
}
