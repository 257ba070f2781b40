namespace SegCam.Common.Tensors;

/// <summary>The element types an <see cref="NdArray"/> and a .npy file may hold (NumPy's bool, intN, uintN, float32, float64).</summary>
public enum NpyDType
{
    Bool,
    Int8,
    UInt8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    Float32,
    Float64,
}

/// <summary>Facts about each <see cref="NpyDType"/>.</summary>
public static class NpyDTypeExtensions
{
    /// <summary>The dtypes this code supports, as a user-facing list for error messages.</summary>
    internal const string AllowedList = "bool, int8..int64, uint8..uint64, float32, float64";

    /// <summary>Bytes per element.</summary>
    public static int ItemSize(this NpyDType dtype) => dtype switch
    {
        NpyDType.Bool or NpyDType.Int8 or NpyDType.UInt8 => 1,
        NpyDType.Int16 or NpyDType.UInt16 => 2,
        NpyDType.Int32 or NpyDType.UInt32 or NpyDType.Float32 => 4,
        NpyDType.Int64 or NpyDType.UInt64 or NpyDType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown NpyDType"),
    };

    /// <summary>NumPy's name for the dtype: "bool", "int8", ..., "float64".</summary>
    public static string NumPyName(this NpyDType dtype) => dtype switch
    {
        NpyDType.Bool => "bool",
        NpyDType.Int8 => "int8",
        NpyDType.UInt8 => "uint8",
        NpyDType.Int16 => "int16",
        NpyDType.UInt16 => "uint16",
        NpyDType.Int32 => "int32",
        NpyDType.UInt32 => "uint32",
        NpyDType.Int64 => "int64",
        NpyDType.UInt64 => "uint64",
        NpyDType.Float32 => "float32",
        NpyDType.Float64 => "float64",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown NpyDType"),
    };

    /// <summary>True for float32 and float64.</summary>
    public static bool IsFloatingPoint(this NpyDType dtype) => dtype is NpyDType.Float32 or NpyDType.Float64;

    /// <summary>The little-endian descr string NumPy writes for the dtype ('&lt;f4', '|b1', '|u1', ...).</summary>
    internal static string LittleEndianDescr(this NpyDType dtype) => dtype switch
    {
        NpyDType.Bool => "|b1",
        NpyDType.Int8 => "|i1",
        NpyDType.UInt8 => "|u1",
        NpyDType.Int16 => "<i2",
        NpyDType.UInt16 => "<u2",
        NpyDType.Int32 => "<i4",
        NpyDType.UInt32 => "<u4",
        NpyDType.Int64 => "<i8",
        NpyDType.UInt64 => "<u8",
        NpyDType.Float32 => "<f4",
        NpyDType.Float64 => "<f8",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown NpyDType"),
    };

    /// <summary>
    /// Parses a NumPy descr such as '&lt;f4', '&gt;i8', '|b1', '=u2' or 'f8'. The byte-order character is one of
    /// '&lt;' (little-endian), '&gt;' (big-endian), '=' (native), '|' (not applicable, treated as native) or absent (native).
    /// </summary>
    internal static bool TryParseDescr(string descr, out NpyDType dtype, out bool bigEndian)
    {
        dtype = default;
        bigEndian = false;
        if (descr.Length == 0)
        {
            return false;
        }

        char order = '=';
        string code = descr;
        if (descr[0] is '<' or '>' or '=' or '|')
        {
            order = descr[0];
            code = descr[1..];
        }

        NpyDType? parsed = code switch
        {
            "b1" or "?" => NpyDType.Bool,
            "i1" => NpyDType.Int8,
            "u1" => NpyDType.UInt8,
            "i2" => NpyDType.Int16,
            "u2" => NpyDType.UInt16,
            "i4" => NpyDType.Int32,
            "u4" => NpyDType.UInt32,
            "i8" => NpyDType.Int64,
            "u8" => NpyDType.UInt64,
            "f4" => NpyDType.Float32,
            "f8" => NpyDType.Float64,
            _ => null,
        };
        if (parsed is null)
        {
            return false;
        }

        dtype = parsed.Value;
        bigEndian = dtype.ItemSize() > 1
            && (order == '>' || (order is '=' or '|' && !BitConverter.IsLittleEndian));
        return true;
    }
}
