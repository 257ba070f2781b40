using SegCam.Common.Errors;
using SegCam.Common.Tensors;

namespace SegCam.Common.Tests.Tensors;

public sealed class NdArrayTests
{
    [Fact]
    public void Constructor_rejects_data_whose_length_does_not_match_shape()
    {
        var error = Assert.Throws<ArgumentException>(() => new NdArray(NpyDType.Float32, [2, 3], new byte[20]));
        Assert.Contains("24 bytes", error.Message);
        Assert.Contains("(2, 3)", error.Message);
    }

    [Fact]
    public void Constructor_rejects_negative_dimension()
    {
        Assert.Throws<ArgumentException>(() => new NdArray(NpyDType.UInt8, [2, -1], new byte[2]));
    }

    [Fact]
    public void Constructor_rejects_unknown_dtype()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NdArray((NpyDType)99, [1], new byte[1]));
    }

    [Fact]
    public void Constructor_rejects_shape_whose_element_count_overflows()
    {
        Assert.Throws<ArgumentException>(() => new NdArray(NpyDType.UInt8, [int.MaxValue, int.MaxValue, int.MaxValue], new byte[1]));
    }

    [Fact]
    public void Constructor_copies_shape_and_data()
    {
        int[] shape = [2];
        byte[] data = [1, 2];
        var array = new NdArray(NpyDType.UInt8, shape, data);
        shape[0] = 1;
        data[0] = 9;

        Assert.Equal([2], array.Shape);
        Assert.Equal([1, 2], array.Bytes.ToArray());
    }

    [Fact]
    public void Shape_cannot_be_modified_through_the_interface()
    {
        var array = NdArray.FromUInt8([1, 2], 2);
        Assert.False(array.Shape is int[]);
        Assert.Throws<NotSupportedException>(() => ((IList<int>)array.Shape)[0] = 5);
    }

    [Fact]
    public void Scalar_has_rank_zero_and_one_element()
    {
        var array = NdArray.FromFloat64([2.5]);
        Assert.Equal(0, array.Rank);
        Assert.Empty(array.Shape);
        Assert.Equal(1, array.ElementCount);
        Assert.Equal([2.5], array.ToFloat64());
    }

    [Fact]
    public void Zero_length_dimension_gives_an_empty_array()
    {
        var array = NdArray.FromFloat32([], 3, 0, 4);
        Assert.Equal(3, array.Rank);
        Assert.Equal(0, array.ElementCount);
        Assert.Empty(array.ToFloat32());
    }

    [Fact]
    public void Factories_reject_data_that_does_not_match_shape()
    {
        Assert.Throws<ArgumentException>(() => NdArray.FromFloat32(new float[6], 2, 2));
        Assert.Throws<ArgumentException>(() => NdArray.FromFloat64(new double[6]));
        Assert.Throws<ArgumentException>(() => NdArray.FromBoolean(new bool[3], 4));
        Assert.Throws<ArgumentException>(() => NdArray.FromUInt8(new byte[3], 1, 2));
        Assert.Throws<ArgumentException>(() => NdArray.FromInt64(new long[3], 2));
    }

    [Fact]
    public void Factories_store_little_endian_bytes_in_c_order()
    {
        var array = NdArray.FromInt64([1, -2], 2);
        Assert.Equal(NpyDType.Int64, array.DType);
        Assert.Equal([1, 0, 0, 0, 0, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], array.Bytes.ToArray());
        Assert.Equal([0x00, 0x00, 0xC0, 0x3F], NdArray.FromFloat32([1.5f], 1).Bytes.ToArray());
    }

    [Fact]
    public void FromBoolean_stores_zero_and_one_bytes()
    {
        var array = NdArray.FromBoolean([true, false, true], 3);
        Assert.Equal(NpyDType.Bool, array.DType);
        Assert.Equal([1, 0, 1], array.Bytes.ToArray());
        Assert.Equal([true, false, true], array.ToBoolean());
    }

    private static readonly (NpyDType DType, byte[] Data, double[] Expected)[] Conversions =
    [
        (NpyDType.Bool, [0, 1, 2], [0, 1, 1]),
        (NpyDType.Int8, [0x80, 0xFF, 0x7F], [-128, -1, 127]),
        (NpyDType.UInt8, [0, 0xFF, 7], [0, 255, 7]),
        (NpyDType.Int16, [0x00, 0x80, 0xFF, 0xFF, 0x2C, 0x01], [-32768, -1, 300]),
        (NpyDType.UInt16, [0xFF, 0xFF, 0x00, 0x00, 0x2C, 0x01], [65535, 0, 300]),
        (NpyDType.Int32, [.. BitConverter.GetBytes(-5), .. BitConverter.GetBytes(int.MaxValue), .. BitConverter.GetBytes(0)], [-5, int.MaxValue, 0]),
        (NpyDType.UInt32, [.. BitConverter.GetBytes(uint.MaxValue), .. BitConverter.GetBytes(1u), .. BitConverter.GetBytes(0u)], [uint.MaxValue, 1, 0]),
        (NpyDType.Int64, [.. BitConverter.GetBytes(-3L), .. BitConverter.GetBytes(1L << 40), .. BitConverter.GetBytes(0L)], [-3, 1L << 40, 0]),
        (NpyDType.UInt64, [.. BitConverter.GetBytes(1UL << 63), .. BitConverter.GetBytes(2UL), .. BitConverter.GetBytes(0UL)], [9223372036854775808.0, 2, 0]),
        (NpyDType.Float32, [.. BitConverter.GetBytes(1.5f), .. BitConverter.GetBytes(-0.25f), .. BitConverter.GetBytes(0f)], [1.5, -0.25, 0]),
        (NpyDType.Float64, [.. BitConverter.GetBytes(1e-300), .. BitConverter.GetBytes(-2.0), .. BitConverter.GetBytes(0.0)], [1e-300, -2, 0]),
    ];

    public static TheoryData<NpyDType, byte[], double[]> ConversionCases() => Cases(_ => true);

    public static TheoryData<NpyDType, byte[], double[]> IntegerConversionCases() =>
        Cases(d => !d.IsFloatingPoint() && d != NpyDType.UInt64);

    private static TheoryData<NpyDType, byte[], double[]> Cases(Func<NpyDType, bool> include)
    {
        var data = new TheoryData<NpyDType, byte[], double[]>();
        foreach (var (dtype, bytes, expected) in Conversions.Where(c => include(c.DType)))
        {
            data.Add(dtype, bytes, expected);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ConversionCases))]
    public void ToFloat64_converts_every_dtype(NpyDType dtype, byte[] data, double[] expected)
    {
        var array = new NdArray(dtype, [3], data);
        Assert.Equal(expected, array.ToFloat64());
    }

    [Theory]
    [MemberData(nameof(ConversionCases))]
    public void ToFloat32_converts_every_dtype(NpyDType dtype, byte[] data, double[] expected)
    {
        var array = new NdArray(dtype, [3], data);
        Assert.Equal(expected.Select(v => (float)v).ToArray(), array.ToFloat32());
    }

    [Theory]
    [MemberData(nameof(ConversionCases))]
    public void ToBoolean_treats_nonzero_as_true(NpyDType dtype, byte[] data, double[] expected)
    {
        var array = new NdArray(dtype, [3], data);
        Assert.Equal(expected.Select(v => v != 0).ToArray(), array.ToBoolean());
    }

    [Fact]
    public void ToBoolean_treats_nan_as_true_and_negative_zero_as_false()
    {
        var array = NdArray.FromFloat64([double.NaN, -0.0, 0.0, double.NegativeInfinity], 4);
        Assert.Equal([true, false, false, true], array.ToBoolean());
    }

    [Theory]
    [MemberData(nameof(IntegerConversionCases))]
    public void ToInt64_converts_bool_and_integer_dtypes(NpyDType dtype, byte[] data, double[] expected)
    {
        var array = new NdArray(dtype, [3], data);
        Assert.Equal(expected.Select(v => (long)v).ToArray(), array.ToInt64());
    }

    [Theory]
    [InlineData(NpyDType.Float32)]
    [InlineData(NpyDType.Float64)]
    public void ToInt64_rejects_floating_point_dtypes_with_a_clear_message(NpyDType dtype)
    {
        var array = new NdArray(dtype, [1], new byte[dtype.ItemSize()]);
        var error = Assert.Throws<ArrayFormatException>(() => array.ToInt64());
        Assert.Contains(dtype.NumPyName(), error.Message);
        Assert.Contains("bool, int8..int64, uint8..uint64", error.Message);
    }

    [Fact]
    public void ToInt64_converts_uint64_values_within_int64_range()
    {
        var array = new NdArray(NpyDType.UInt64, [2], [.. BitConverter.GetBytes((ulong)long.MaxValue), .. BitConverter.GetBytes(5UL)]);
        Assert.Equal([long.MaxValue, 5], array.ToInt64());
    }

    [Fact]
    public void ToInt64_rejects_uint64_values_above_int64_range()
    {
        var array = new NdArray(NpyDType.UInt64, [2], [.. BitConverter.GetBytes(5UL), .. BitConverter.GetBytes(ulong.MaxValue)]);
        var error = Assert.Throws<ArrayFormatException>(() => array.ToInt64());
        Assert.Contains("18446744073709551615", error.Message);
        Assert.Contains("index 1", error.Message);
    }

    [Fact]
    public void ToString_names_dtype_and_shape()
    {
        Assert.Equal("NdArray(float32, (2, 3))", NdArray.FromFloat32(new float[6], 2, 3).ToString());
        Assert.Equal("NdArray(uint8, (4,))", NdArray.FromUInt8(new byte[4], 4).ToString());
        Assert.Equal("NdArray(bool, ())", NdArray.FromBoolean([true]).ToString());
    }
}
