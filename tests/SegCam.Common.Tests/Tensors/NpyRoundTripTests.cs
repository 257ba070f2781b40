using System.Buffers.Binary;
using System.Text;
using SegCam.Common.Tensors;

namespace SegCam.Common.Tests.Tensors;

public sealed class NpyRoundTripTests
{
    private static readonly int[][] ShapesByRank =
    [
        [],
        [5],
        [2, 3],
        [3, 1, 4],
        [2, 3, 1, 2],
        [1, 2, 3, 2, 2],
    ];

    public static TheoryData<NpyDType, int> EveryDTypeAndRank()
    {
        var data = new TheoryData<NpyDType, int>();
        foreach (NpyDType dtype in Enum.GetValues<NpyDType>())
        {
            for (int rank = 0; rank <= 5; rank++)
            {
                data.Add(dtype, rank);
            }
        }

        return data;
    }

    private static NdArray RandomArray(NpyDType dtype, int[] shape, int seed)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var bytes = new byte[count * dtype.ItemSize()];
        new Random(seed).NextBytes(bytes);
        if (dtype == NpyDType.Bool)
        {
            for (int i = 0; i < bytes.Length; i++)
            {
                bytes[i] &= 1;
            }
        }

        return new NdArray(dtype, shape, bytes);
    }

    private static NdArray RoundTrip(NdArray array)
    {
        using var stream = new MemoryStream();
        NpyFile.Write(stream, array);
        stream.Position = 0;
        NdArray read = NpyFile.Read(stream, "memory.npy");
        Assert.Equal(stream.Length, stream.Position);
        return read;
    }

    [Theory]
    [MemberData(nameof(EveryDTypeAndRank))]
    public void Round_trip_preserves_dtype_shape_and_bytes(NpyDType dtype, int rank)
    {
        NdArray original = RandomArray(dtype, ShapesByRank[rank], seed: (rank * 31) + (int)dtype);

        NdArray read = RoundTrip(original);

        Assert.Equal(dtype, read.DType);
        Assert.Equal(original.Shape, read.Shape);
        Assert.Equal(rank, read.Rank);
        Assert.Equal(original.ElementCount, read.ElementCount);
        Assert.Equal(original.Bytes.ToArray(), read.Bytes.ToArray());
    }

    [Theory]
    [MemberData(nameof(EveryDTypeAndRank))]
    public void Round_trip_through_a_file_preserves_dtype_shape_and_bytes(NpyDType dtype, int rank)
    {
        string dir = Directory.CreateTempSubdirectory("segcam-npy-").FullName;
        try
        {
            string path = Path.Combine(dir, "array.npy");
            NdArray original = RandomArray(dtype, ShapesByRank[rank], seed: 7 + rank);

            NpyFile.Write(path, original);
            NdArray read = NpyFile.Read(path);

            Assert.Equal(dtype, read.DType);
            Assert.Equal(original.Shape, read.Shape);
            Assert.Equal(original.Bytes.ToArray(), read.Bytes.ToArray());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Round_trip_preserves_empty_arrays()
    {
        NdArray read = RoundTrip(NdArray.FromFloat32([], 0, 3));
        Assert.Equal([0, 3], read.Shape);
        Assert.Equal(0, read.ElementCount);
    }

    [Fact]
    public void Round_trip_preserves_special_float_values()
    {
        double[] values = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, -0.0, double.Epsilon, double.MaxValue];
        NdArray read = RoundTrip(NdArray.FromFloat64(values, 6));
        Assert.Equal(values, read.ToFloat64());
        Assert.True(double.IsNegative(read.ToFloat64()[3]));
    }

    [Theory]
    [InlineData(new int[0])]
    [InlineData(new[] { 7 })]
    [InlineData(new[] { 1234567, 0 })]
    [InlineData(new[] { 2, 3, 4, 5, 6 })]
    public void Writer_pads_header_to_a_multiple_of_64_bytes_ending_in_newline(int[] shape)
    {
        var array = new NdArray(NpyDType.Float32, shape, new byte[shape.Aggregate(1, (a, b) => a * b) * 4]);
        using var stream = new MemoryStream();
        NpyFile.Write(stream, array);
        byte[] bytes = stream.ToArray();

        Assert.Equal([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0], bytes[..8]);
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        Assert.Equal(0, (10 + headerLength) % 64);
        Assert.Equal((byte)'\n', bytes[10 + headerLength - 1]);
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': ", header);
        Assert.Equal(bytes.Length - 10 - headerLength, array.Bytes.Length);
    }

    [Theory]
    [InlineData(NpyDType.Bool, "|b1")]
    [InlineData(NpyDType.Int8, "|i1")]
    [InlineData(NpyDType.UInt8, "|u1")]
    [InlineData(NpyDType.Int16, "<i2")]
    [InlineData(NpyDType.UInt16, "<u2")]
    [InlineData(NpyDType.Int32, "<i4")]
    [InlineData(NpyDType.UInt32, "<u4")]
    [InlineData(NpyDType.Int64, "<i8")]
    [InlineData(NpyDType.UInt64, "<u8")]
    [InlineData(NpyDType.Float32, "<f4")]
    [InlineData(NpyDType.Float64, "<f8")]
    public void Writer_uses_numpy_descr_for_each_dtype(NpyDType dtype, string descr)
    {
        using var stream = new MemoryStream();
        NpyFile.Write(stream, new NdArray(dtype, [1], new byte[dtype.ItemSize()]));
        Assert.Contains($"'descr': '{descr}'", Encoding.ASCII.GetString(stream.ToArray()));
    }

    [Fact]
    public void Writer_falls_back_to_version_2_when_header_exceeds_uint16()
    {
        int[] shape = Enumerable.Repeat(1, 30_000).ToArray(); // "1, " per axis: about 90,000 header bytes
        var array = new NdArray(NpyDType.UInt8, shape, [42]);
        using var stream = new MemoryStream();
        NpyFile.Write(stream, array);
        byte[] bytes = stream.ToArray();

        Assert.Equal(2, bytes[6]);
        Assert.Equal(0, bytes[7]);
        uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        Assert.True(headerLength > ushort.MaxValue);
        Assert.Equal(0u, (12 + headerLength) % 64);

        stream.Position = 0;
        NdArray read = NpyFile.Read(stream, "wide.npy");
        Assert.Equal(30_000, read.Rank);
        Assert.Equal([42], read.Bytes.ToArray());
    }

    public static TheoryData<string> NumPyWrittenCOrderFiles() =>
    [
        "f4_2x3.npy", "bool_5.npy", "scalar_f8.npy", "empty_f4_0x3.npy", "dtype_bool.npy",
        "dtype_int8.npy", "dtype_uint8.npy", "dtype_int16.npy", "dtype_uint16.npy", "dtype_int32.npy",
        "dtype_uint32.npy", "dtype_int64.npy", "dtype_uint64.npy", "dtype_float32.npy", "dtype_float64.npy",
    ];

    [Theory]
    [MemberData(nameof(NumPyWrittenCOrderFiles))]
    public void Writer_output_is_byte_identical_to_numpy_save(string fileName)
    {
        string path = NpyTestSupport.DataPath(fileName);
        byte[] numpyBytes = File.ReadAllBytes(path);
        NdArray array = NpyFile.Read(path);

        using var stream = new MemoryStream();
        NpyFile.Write(stream, array);

        Assert.Equal(numpyBytes, stream.ToArray());
    }

    [Fact]
    public void Reader_leaves_the_stream_just_after_the_array()
    {
        using var stream = new MemoryStream();
        NpyFile.Write(stream, NdArray.FromInt64([1, 2, 3], 3));
        NpyFile.Write(stream, NdArray.FromBoolean([true], 1));
        stream.Position = 0;

        Assert.Equal([1L, 2, 3], NpyFile.Read(stream, "a.npy").ToInt64());
        Assert.Equal([true], NpyFile.Read(stream, "a.npy").ToBoolean());
        Assert.Equal(stream.Length, stream.Position);
    }

    [Fact]
    public void Reader_accepts_a_non_seekable_stream()
    {
        var ms = new MemoryStream();
        float[] values = Enumerable.Range(0, 1000).Select(i => i * 0.5f).ToArray();
        NpyFile.Write(ms, NdArray.FromFloat32(values, 10, 100));
        ms.Position = 0;
        using var pipe = new NpyTestSupport.NonSeekableStream(ms);

        NdArray read = NpyFile.Read(pipe, "pipe.npy");

        Assert.Equal([10, 100], read.Shape);
        Assert.Equal(values, read.ToFloat32());
    }

    [Fact]
    public void Write_to_path_replaces_an_existing_file_and_leaves_no_temporary_file()
    {
        string dir = Directory.CreateTempSubdirectory("segcam-npy-").FullName;
        try
        {
            string path = Path.Combine(dir, "out.npy");
            File.WriteAllText(path, "old contents that are longer than the new array would be, to catch a missing truncation");

            NpyFile.Write(path, NdArray.FromUInt8([1, 2, 3], 3));

            Assert.Equal([path], Directory.GetFiles(dir));
            Assert.Equal([1, 2, 3], NpyFile.Read(path).Bytes.ToArray());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Write_to_path_that_fails_leaves_no_file_behind()
    {
        string dir = Directory.CreateTempSubdirectory("segcam-npy-").FullName;
        try
        {
            // The destination is a directory, so the final move fails after the data was written.
            string path = Path.Combine(dir, "taken.npy");
            Directory.CreateDirectory(path);

            Assert.ThrowsAny<IOException>(() => NpyFile.Write(path, NdArray.FromUInt8([1], 1)));

            Assert.Empty(Directory.GetFiles(dir));
            Assert.Empty(Directory.GetFileSystemEntries(path));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
