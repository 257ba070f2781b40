using SegCam.Onnx.Graph;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Tests;

/// <summary>Short attribute factories for test graphs.</summary>
internal static class A
{
    public static AttributeProto I(string name, long v) => Attr.Int(name, v);

    public static AttributeProto F(string name, float v) => Attr.Float(name, v);

    public static AttributeProto Is(string name, params long[] v) => Attr.Ints(name, v);

    public static AttributeProto S(string name, string v) => Attr.Str(name, v);
}
