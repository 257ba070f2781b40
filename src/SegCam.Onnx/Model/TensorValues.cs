using System.Runtime.InteropServices;
using Google.Protobuf;
using SegCam.Common.Errors;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Model;

/// <summary>Conversions between <see cref="TensorProto"/> and plain arrays.</summary>
public static class TensorValues
{
    /// <summary>ONNX element type codes used by the engine (TensorProto.DataType).</summary>
    public const int Float = 1, UInt8 = 2, Int8 = 3, Int32 = 6, Int64 = 7, Bool = 9, Float16 = 10, Double = 11;

    /// <summary>True for the floating-point element types that carry gradients.</summary>
    public static bool IsFloat(int elemType) => elemType is Float or Double or Float16 or 16;

    /// <summary>Element values as doubles (float, double, integer and bool tensors).</summary>
    public static double[] ToDoubles(TensorProto t)
    {
        var count = checked((int)t.Dims.Aggregate(1L, (a, d) => a * d));
        var raw = t.RawData.Span;
        switch (t.DataType)
        {
            case Float:
                return raw.Length > 0 ? MemoryMarshal.Cast<byte, float>(raw).ToArray().Select(v => (double)v).ToArray() : t.FloatData.Select(v => (double)v).ToArray();
            case Double:
                return raw.Length > 0 ? MemoryMarshal.Cast<byte, double>(raw).ToArray() : t.DoubleData.ToArray();
            case Int64:
                return raw.Length > 0 ? MemoryMarshal.Cast<byte, long>(raw).ToArray().Select(v => (double)v).ToArray() : t.Int64Data.Select(v => (double)v).ToArray();
            case Int32:
                return raw.Length > 0 ? MemoryMarshal.Cast<byte, int>(raw).ToArray().Select(v => (double)v).ToArray() : t.Int32Data.Select(v => (double)v).ToArray();
            case UInt8:
            case Bool:
                return raw.Length > 0 ? raw.ToArray().Select(v => (double)v).ToArray() : t.Int32Data.Select(v => (double)v).ToArray();
            case Int8:
                return raw.Length > 0 ? raw.ToArray().Select(v => (double)(sbyte)v).ToArray() : t.Int32Data.Select(v => (double)v).ToArray();
            default:
                throw new ModelFormatException($"tensor '{t.Name}' has element type {t.DataType}, which the engine cannot read as a constant (count {count})");
        }
    }

    /// <summary>Element values as 64-bit integers.</summary>
    public static long[] ToLongs(TensorProto t) => ToDoubles(t).Select(v => (long)v).ToArray();

    /// <summary>A float32 tensor.</summary>
    public static TensorProto FromFloats(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values)) };
        t.Dims.AddRange(dims);
        return t;
    }

    /// <summary>An int64 tensor.</summary>
    public static TensorProto FromLongs(string name, ReadOnlySpan<long> values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = Int64, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values)) };
        t.Dims.AddRange(dims);
        return t;
    }

    /// <summary>A tensor of the given element type holding <paramref name="values"/> (converted).</summary>
    public static TensorProto FromDoubles(string name, int elemType, ReadOnlySpan<double> values, params long[] dims)
    {
        switch (elemType)
        {
            case Float:
                var f = new float[values.Length];
                for (var i = 0; i < f.Length; i++)
                {
                    f[i] = (float)values[i];
                }

                return FromFloats(name, f, dims);
            case Double:
                var t = new TensorProto { Name = name, DataType = Double, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values)) };
                t.Dims.AddRange(dims);
                return t;
            default:
                throw new UnsupportedOperatorException($"constants of element type {elemType} cannot be emitted (float32 and float64 are supported)");
        }
    }
}
