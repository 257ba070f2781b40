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
}
