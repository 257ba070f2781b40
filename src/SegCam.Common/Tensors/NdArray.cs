using System.Collections.ObjectModel;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using SegCam.Common.Errors;

namespace SegCam.Common.Tensors;

/// <summary>
/// An n-dimensional array of one <see cref="NpyDType"/>, stored as raw bytes in C (row-major) order, little-endian.
/// Instances are immutable: constructors and factories copy what they are given.
/// </summary>
public sealed class NdArray
{
    private readonly byte[] _data;
    private readonly int[] _shape;

    /// <summary>Creates an array from raw little-endian C-order bytes; <paramref name="shape"/> and <paramref name="data"/> are copied.</summary>
    /// <exception cref="ArgumentException">A dimension is negative, or <paramref name="data"/> is not product(shape) * itemsize bytes long.</exception>
    public NdArray(NpyDType dtype, int[] shape, byte[] data)
        : this(dtype, (int[])Checked(shape, nameof(shape)).Clone(), (byte[])Checked(data, nameof(data)).Clone(), owned: true)
    {
    }

    /// <summary>Takes ownership of <paramref name="shape"/> and <paramref name="data"/> without copying.</summary>
    private NdArray(NpyDType dtype, int[] shape, byte[] data, bool owned)
    {
        _ = owned;
        if (!Enum.IsDefined(dtype))
        {
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown NpyDType");
        }

        long count = CountElements(shape);
        long expected = checked(count * dtype.ItemSize());
        if (data.LongLength != expected)
        {
            throw new ArgumentException(
                $"data has {data.LongLength} bytes but shape {FormatShape(shape)} of {dtype.NumPyName()} needs {expected} bytes",
                nameof(data));
        }

        DType = dtype;
        _shape = shape;
        _data = data;
        ElementCount = count;
        Shape = Array.AsReadOnly(_shape);
    }

    /// <summary>The element type.</summary>
    public NpyDType DType { get; }

    /// <summary>The length of each axis; empty for a 0-d (scalar) array.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The number of axes.</summary>
    public int Rank => _shape.Length;

    /// <summary>The product of the dimensions (1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>The elements as raw bytes, C order, little-endian.</summary>
    public ReadOnlySpan<byte> Bytes => _data;

    /// <summary>Wraps arrays the caller will not touch again (no copy).</summary>
    internal static NdArray CreateOwned(NpyDType dtype, int[] shape, byte[] data) => new(dtype, shape, data, owned: true);

    /// <summary>Converts every element to float32 (bool gives 0 or 1; wide integers and float64 round to nearest).</summary>
    public float[] ToFloat32() => ToNumbers<float>();

    /// <summary>Converts every element to float64 (bool gives 0 or 1).</summary>
    public double[] ToFloat64() => ToNumbers<double>();

    /// <summary>Converts every element to bool: nonzero (including NaN) is true, zero and -0.0 are false.</summary>
    public bool[] ToBoolean()
    {
        var result = new bool[ElementCount];
        switch (DType)
        {
            case NpyDType.Bool: NonZero<byte>(result); break;
            case NpyDType.Int8: NonZero<sbyte>(result); break;
            case NpyDType.UInt8: NonZero<byte>(result); break;
            case NpyDType.Int16: NonZero<short>(result); break;
            case NpyDType.UInt16: NonZero<ushort>(result); break;
            case NpyDType.Int32: NonZero<int>(result); break;
            case NpyDType.UInt32: NonZero<uint>(result); break;
            case NpyDType.Int64: NonZero<long>(result); break;
            case NpyDType.UInt64: NonZero<ulong>(result); break;
            case NpyDType.Float32: NonZero<float>(result); break;
            case NpyDType.Float64: NonZero<double>(result); break;
            default: throw new InvalidOperationException($"unknown dtype {DType}");
        }

        return result;
    }

    /// <summary>Converts bool and integer elements to int64 (bool gives 0 or 1).</summary>
    /// <exception cref="ArrayFormatException">The dtype is float32 or float64, or a uint64 element exceeds <see cref="long.MaxValue"/>.</exception>
    public long[] ToInt64()
    {
        if (DType.IsFloatingPoint())
        {
            throw new ArrayFormatException(
                $"cannot convert a {DType.NumPyName()} array to int64: ToInt64 accepts only bool and integer dtypes "
                + "(bool, int8..int64, uint8..uint64); use ToFloat64 or ToFloat32 for floating-point data");
        }

        if (DType == NpyDType.UInt64)
        {
            ReadOnlySpan<ulong> source = View<ulong>();
            var result = new long[source.Length];
            for (int i = 0; i < source.Length; i++)
            {
                if (source[i] > long.MaxValue)
                {
                    throw new ArrayFormatException(
                        $"cannot convert a uint64 array to int64: the element at flat index {i} is {source[i].ToString(CultureInfo.InvariantCulture)}, "
                        + $"above the int64 maximum {long.MaxValue.ToString(CultureInfo.InvariantCulture)}");
                }

                result[i] = (long)source[i];
            }

            return result;
        }

        return ToNumbers<long>();
    }

    /// <summary>A float32 array of the given shape (empty shape = scalar); <paramref name="data"/> is copied.</summary>
    public static NdArray FromFloat32(float[] data, params int[] shape) => FromValues<float>(NpyDType.Float32, data, shape);

    /// <summary>A float64 array of the given shape (empty shape = scalar); <paramref name="data"/> is copied.</summary>
    public static NdArray FromFloat64(double[] data, params int[] shape) => FromValues<double>(NpyDType.Float64, data, shape);

    /// <summary>A uint8 array of the given shape (empty shape = scalar); <paramref name="data"/> is copied.</summary>
    public static NdArray FromUInt8(byte[] data, params int[] shape) => FromValues<byte>(NpyDType.UInt8, data, shape);

    /// <summary>An int64 array of the given shape (empty shape = scalar); <paramref name="data"/> is copied.</summary>
    public static NdArray FromInt64(long[] data, params int[] shape) => FromValues<long>(NpyDType.Int64, data, shape);

    /// <summary>A bool array (bytes 0 and 1) of the given shape (empty shape = scalar).</summary>
    public static NdArray FromBoolean(bool[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        var bytes = new byte[data.Length];
        for (int i = 0; i < data.Length; i++)
        {
            bytes[i] = data[i] ? (byte)1 : (byte)0;
        }

        return new NdArray(NpyDType.Bool, (int[])shape.Clone(), bytes, owned: true);
    }

    /// <summary>For example "NdArray(float32, (2, 3))".</summary>
    public override string ToString() => $"NdArray({DType.NumPyName()}, {FormatShape(_shape)})";

    /// <summary>Python's tuple notation: "()", "(5,)", "(2, 3)".</summary>
    internal static string FormatShape(IReadOnlyList<int> shape) => shape.Count switch
    {
        0 => "()",
        1 => $"({shape[0].ToString(CultureInfo.InvariantCulture)},)",
        _ => "(" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")",
    };

    private static T Checked<T>(T? value, string name)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(value, name);
        return value;
    }

    private static long CountElements(int[] shape)
    {
        long count = 1;
        foreach (int dim in shape)
        {
            if (dim < 0)
            {
                throw new ArgumentException($"shape {FormatShape(shape)} has a negative dimension", nameof(shape));
            }
        }

        // A zero anywhere makes the product zero; otherwise a product above long.MaxValue cannot match any byte[] length.
        if (shape.Contains(0))
        {
            return 0;
        }

        try
        {
            foreach (int dim in shape)
            {
                count = checked(count * dim);
            }
        }
        catch (OverflowException)
        {
            throw new ArgumentException($"shape {FormatShape(shape)} has too many elements", nameof(shape));
        }

        return count;
    }

    private static NdArray FromValues<T>(NpyDType dtype, T[] data, int[] shape)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        byte[] bytes = MemoryMarshal.AsBytes(data.AsSpan()).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            ReverseEachItem(bytes, dtype.ItemSize());
        }

        return new NdArray(dtype, (int[])shape.Clone(), bytes, owned: true);
    }

    private static void ReverseEachItem(Span<byte> bytes, int itemSize)
    {
        if (itemSize == 1)
        {
            return;
        }

        for (int offset = 0; offset < bytes.Length; offset += itemSize)
        {
            bytes.Slice(offset, itemSize).Reverse();
        }
    }

    /// <summary>The data as elements of <typeparamref name="T"/> in host byte order.</summary>
    private ReadOnlySpan<T> View<T>()
        where T : unmanaged
    {
        if (BitConverter.IsLittleEndian || DType.ItemSize() == 1)
        {
            return MemoryMarshal.Cast<byte, T>(_data);
        }

        byte[] copy = (byte[])_data.Clone();
        ReverseEachItem(copy, DType.ItemSize());
        return MemoryMarshal.Cast<byte, T>(copy);
    }

    private TOut[] ToNumbers<TOut>()
        where TOut : INumberBase<TOut>
    {
        var result = new TOut[ElementCount];
        switch (DType)
        {
            case NpyDType.Bool:
                for (int i = 0; i < _data.Length; i++)
                {
                    result[i] = _data[i] != 0 ? TOut.One : TOut.Zero;
                }

                break;
            case NpyDType.Int8: Widen<sbyte, TOut>(result); break;
            case NpyDType.UInt8: Widen<byte, TOut>(result); break;
            case NpyDType.Int16: Widen<short, TOut>(result); break;
            case NpyDType.UInt16: Widen<ushort, TOut>(result); break;
            case NpyDType.Int32: Widen<int, TOut>(result); break;
            case NpyDType.UInt32: Widen<uint, TOut>(result); break;
            case NpyDType.Int64: Widen<long, TOut>(result); break;
            case NpyDType.UInt64: Widen<ulong, TOut>(result); break;
            case NpyDType.Float32: Widen<float, TOut>(result); break;
            case NpyDType.Float64: Widen<double, TOut>(result); break;
            default: throw new InvalidOperationException($"unknown dtype {DType}");
        }

        return result;
    }

    private void Widen<TIn, TOut>(Span<TOut> destination)
        where TIn : unmanaged, INumberBase<TIn>
        where TOut : INumberBase<TOut>
    {
        ReadOnlySpan<TIn> source = View<TIn>();
        for (int i = 0; i < source.Length; i++)
        {
            destination[i] = TOut.CreateTruncating(source[i]);
        }
    }

    private void NonZero<TIn>(Span<bool> destination)
        where TIn : unmanaged, INumberBase<TIn>
    {
        ReadOnlySpan<TIn> source = View<TIn>();
        for (int i = 0; i < source.Length; i++)
        {
            destination[i] = source[i] != TIn.Zero;
        }
    }
}
