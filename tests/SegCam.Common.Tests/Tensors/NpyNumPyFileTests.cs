using SegCam.Common.Tensors;

namespace SegCam.Common.Tests.Tensors;

/// <summary>Reads files written by NumPy (see Data/README.md for how each was made).</summary>
public sealed class NpyNumPyFileTests
{
    private static NdArray Load(string fileName) => NpyFile.Read(NpyTestSupport.DataPath(fileName));

    [Fact]
    public void Reader_reads_a_float32_matrix_written_by_numpy()
    {
        NdArray array = Load("f4_2x3.npy");
        Assert.Equal(NpyDType.Float32, array.DType);
        Assert.Equal([2, 3], array.Shape);
        Assert.Equal([0f, 0.25f, 0.5f, 0.75f, 1f, 1.25f], array.ToFloat32());
    }

    [Fact]
    public void Reader_converts_big_endian_float64_to_little_endian()
    {
        NdArray array = Load("be_f8_2x2.npy");
        Assert.Equal(NpyDType.Float64, array.DType);
        Assert.Equal([2, 2], array.Shape);
        double[] values = array.ToFloat64();
        Assert.Equal([1.5, -2.25, 1e300, -0.0], values);
        Assert.True(double.IsNegative(values[3]));
        Assert.Equal(BitConverter.GetBytes(1.5), array.Bytes[..8].ToArray());
    }

    [Fact]
    public void Reader_converts_fortran_order_to_c_order()
    {
        NdArray array = Load("fortran_i4_2x3x4.npy");
        Assert.Equal(NpyDType.Int32, array.DType);
        Assert.Equal([2, 3, 4], array.Shape);
        Assert.Equal(Enumerable.Range(0, 24).Select(i => (long)i).ToArray(), array.ToInt64());
    }

    [Fact]
    public void Reader_converts_big_endian_fortran_int16_to_little_endian_c_order()
    {
        NdArray array = Load("fortran_be_i2_2x3.npy");
        Assert.Equal(NpyDType.Int16, array.DType);
        Assert.Equal([2, 3], array.Shape);
        Assert.Equal([1L, -2, 300, -400, 5, 32767], array.ToInt64());
    }

    [Fact]
    public void Reader_reads_a_bool_array_written_by_numpy()
    {
        NdArray array = Load("bool_5.npy");
        Assert.Equal(NpyDType.Bool, array.DType);
        Assert.Equal([5], array.Shape);
        Assert.Equal([true, false, true, true, false], array.ToBoolean());
        Assert.Equal([1f, 0, 1, 1, 0], array.ToFloat32());
    }

    [Fact]
    public void Reader_reads_a_version_2_file()
    {
        NdArray array = Load("v2_u2_5.npy");
        Assert.Equal(NpyDType.UInt16, array.DType);
        Assert.Equal([0L, 1000, 2000, 3000, 4000], array.ToInt64());
    }

    [Fact]
    public void Reader_reads_a_version_3_file()
    {
        NdArray array = Load("v3_i1_3.npy");
        Assert.Equal(NpyDType.Int8, array.DType);
        Assert.Equal([-128L, 0, 127], array.ToInt64());
    }

    [Fact]
    public void Reader_reads_a_zero_dimensional_scalar()
    {
        NdArray array = Load("scalar_f8.npy");
        Assert.Equal(0, array.Rank);
        Assert.Equal(1, array.ElementCount);
        Assert.Equal([3.25], array.ToFloat64());
    }

    [Fact]
    public void Reader_reads_an_empty_array()
    {
        NdArray array = Load("empty_f4_0x3.npy");
        Assert.Equal([0, 3], array.Shape);
        Assert.Equal(0, array.ElementCount);
        Assert.Empty(array.ToFloat32());
    }

    [Theory]
    [InlineData("int8", NpyDType.Int8, -128L, 127L)]
    [InlineData("uint8", NpyDType.UInt8, 0L, 255L)]
    [InlineData("int16", NpyDType.Int16, -32768L, 32767L)]
    [InlineData("uint16", NpyDType.UInt16, 0L, 65535L)]
    [InlineData("int32", NpyDType.Int32, -2147483648L, 2147483647L)]
    [InlineData("uint32", NpyDType.UInt32, 0L, 4294967295L)]
    [InlineData("int64", NpyDType.Int64, long.MinValue, long.MaxValue)]
    public void Reader_reads_integer_extremes_written_by_numpy(string name, NpyDType dtype, long min, long max)
    {
        NdArray array = Load($"dtype_{name}.npy");
        Assert.Equal(dtype, array.DType);
        Assert.Equal([2, 3], array.Shape);
        Assert.Equal([0, 1, min, max, 7, 42], array.ToInt64());
    }

    [Fact]
    public void Reader_reads_uint64_extremes_written_by_numpy()
    {
        NdArray array = Load("dtype_uint64.npy");
        Assert.Equal(NpyDType.UInt64, array.DType);
        Assert.Equal(ulong.MaxValue, BitConverter.ToUInt64(array.Bytes.Slice(3 * 8, 8)));
        Assert.Equal([0.0, 1, 0, 18446744073709551615.0, 7, 42], array.ToFloat64());
    }

    [Fact]
    public void Reader_reads_float_extremes_written_by_numpy()
    {
        Assert.Equal([0f, -1.5f, float.PositiveInfinity, float.NegativeInfinity, 1e-3f, float.MaxValue], Load("dtype_float32.npy").ToFloat32());
        Assert.Equal([0.0, -1.5, double.PositiveInfinity, double.NegativeInfinity, 1e-3, double.MaxValue], Load("dtype_float64.npy").ToFloat64());
    }

    [Fact]
    public void Reader_reads_a_bool_matrix_written_by_numpy()
    {
        NdArray array = Load("dtype_bool.npy");
        Assert.Equal([2, 3], array.Shape);
        Assert.Equal([true, false, false, true, true, false], array.ToBoolean());
    }

    public static TheoryData<int[], NpyDType> FortranShapes() => new()
    {
        { [4, 1], NpyDType.UInt8 },
        { [1, 5], NpyDType.Int16 },
        { [3, 4, 5], NpyDType.Float32 },
        { [2, 1, 3, 4], NpyDType.Float64 },
        { [2, 3, 2, 1, 3], NpyDType.Int32 },
        { [3, 0, 2], NpyDType.Int64 },
    };

    [Theory]
    [MemberData(nameof(FortranShapes))]
    public void Reader_converts_fortran_order_of_any_rank_to_c_order(int[] shape, NpyDType dtype)
    {
        int count = shape.Aggregate(1, (a, b) => a * b);
        int itemSize = dtype.ItemSize();
        var fortranBytes = new byte[count * itemSize];
        new Random(shape.Length).NextBytes(fortranBytes);
        string shapeText = "(" + string.Join(", ", shape) + ")";

        NdArray array = NpyFile.Read(new MemoryStream(NpyTestSupport.Npy(NpyTestSupport.Header(dtype.LittleEndianDescrForTests(), shapeText, fortran: true), fortranBytes)), "f.npy");

        // Reference: walk C order and compute each element's column-major offset from scratch.
        var expected = new byte[fortranBytes.Length];
        var index = new int[shape.Length];
        for (int c = 0; c < count; c++)
        {
            int rest = c;
            for (int axis = shape.Length - 1; axis >= 0; axis--)
            {
                index[axis] = rest % shape[axis];
                rest /= shape[axis];
            }

            int f = 0;
            for (int axis = shape.Length - 1; axis >= 0; axis--)
            {
                f = (f * shape[axis]) + index[axis];
            }

            Array.Copy(fortranBytes, f * itemSize, expected, c * itemSize, itemSize);
        }

        Assert.Equal(shape, array.Shape);
        Assert.Equal(expected, array.Bytes.ToArray());
    }
}

internal static class NpyDTypeTestExtensions
{
    public static string LittleEndianDescrForTests(this NpyDType dtype) =>
        (dtype.ItemSize() == 1 ? "|" : "<") + dtype switch
        {
            NpyDType.Bool => "b1",
            NpyDType.Float32 or NpyDType.Float64 => "f" + dtype.ItemSize(),
            NpyDType.UInt8 or NpyDType.UInt16 or NpyDType.UInt32 or NpyDType.UInt64 => "u" + dtype.ItemSize(),
            _ => "i" + dtype.ItemSize(),
        };
}
