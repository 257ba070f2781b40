using System.Text;
using SegCam.Common.Errors;
using SegCam.Common.Tensors;
using static SegCam.Common.Tests.Tensors.NpyTestSupport;

namespace SegCam.Common.Tests.Tensors;

/// <summary>Malformed, truncated and oversized inputs must fail with a clear error and without large allocations.</summary>
public sealed class NpyHostileInputTests
{
    private const string Name = "x.npy";

    private static NdArray ReadBytes(byte[] bytes, long maxBytes = NpyFile.DefaultMaxBytes) =>
        NpyFile.Read(new MemoryStream(bytes), Name, maxBytes);

    private static T Fails<T>(byte[] bytes, long maxBytes = NpyFile.DefaultMaxBytes)
        where T : SegCamException
    {
        var error = Assert.Throws<T>(() => ReadBytes(bytes, maxBytes));
        Assert.StartsWith(Name + ": ", error.Message);
        return error;
    }

    [Fact]
    public void Reader_accepts_a_well_formed_hand_made_file()
    {
        NdArray array = ReadBytes(Npy(Header("<i2", "(2,)"), [1, 0, 2, 0]));
        Assert.Equal([1L, 2], array.ToInt64());
    }

    [Fact]
    public void Reader_rejects_bad_magic()
    {
        byte[] bytes = Npy(Header("<f4", "(1,)"), new byte[4]);
        bytes[1] = (byte)'X';
        var error = Fails<ArrayFormatException>(bytes);
        Assert.Contains("not a .npy file", error.Message);
        Assert.Contains("NUMPY", error.Message);
    }

    [Fact]
    public void Reader_rejects_a_text_file()
    {
        Fails<ArrayFormatException>(Encoding.ASCII.GetBytes("hello, world\n"));
    }

    [Fact]
    public void Reader_rejects_an_empty_stream()
    {
        var error = Fails<ArrayFormatException>([]);
        Assert.Contains("empty", error.Message);
    }

    [Fact]
    public void Reader_rejects_a_file_that_ends_inside_the_preamble()
    {
        var error = Fails<ArrayFormatException>([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1]);
        Assert.Contains("truncated", error.Message);
        Assert.Contains("7 bytes", error.Message);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(4, 0)]
    [InlineData(255, 255)]
    public void Reader_rejects_unsupported_format_versions(byte major, byte minor)
    {
        byte[] bytes = Npy(Header("<f4", "(1,)"), new byte[4]);
        bytes[6] = major;
        bytes[7] = minor;
        var error = Fails<ArrayFormatException>(bytes);
        Assert.Contains($"version {major}.{minor}", error.Message);
        Assert.Contains("allowed: 1.0, 2.0, 3.0", error.Message);
    }

    [Fact]
    public void Reader_rejects_truncated_header()
    {
        byte[] bytes = Npy(Header("<f4", "(1,)"))[..40];
        var error = Fails<ArrayFormatException>(bytes);
        Assert.Contains("truncated header", error.Message);
        Assert.Contains("118-byte header", error.Message);
        Assert.Contains("only 30 bytes", error.Message);
    }

    [Fact]
    public void Reader_rejects_truncated_header_on_a_non_seekable_stream()
    {
        byte[] bytes = Npy(Header("<f4", "(1,)"))[..40];
        var error = Assert.Throws<ArrayFormatException>(() => NpyFile.Read(new NonSeekableStream(new MemoryStream(bytes)), Name));
        Assert.Contains("truncated header", error.Message);
    }

    [Fact]
    public void Reader_rejects_header_length_above_the_limit_without_allocating_it()
    {
        byte[] bytes = Npy(Header("<f4", "(1,)"), new byte[4], major: 2, declaredHeaderLength: uint.MaxValue);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Fails<ArrayFormatException>(bytes);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("4294967295", error.Message);
        Assert.Contains("1048576", error.Message);
    }

    [Fact]
    public void Reader_rejects_truncated_data()
    {
        byte[] bytes = Npy(Header("<f4", "(2, 3)"), new byte[10]);
        var error = Fails<ArrayFormatException>(bytes);
        Assert.Contains("truncated data", error.Message);
        Assert.Contains("needs 24 bytes", error.Message);
        Assert.Contains("only 10 bytes", error.Message);
    }

    [Fact]
    public void Reader_rejects_truncated_data_on_a_non_seekable_stream()
    {
        byte[] bytes = Npy(Header("<f8", "(4,)"), new byte[17]);
        var error = Assert.Throws<ArrayFormatException>(() => NpyFile.Read(new NonSeekableStream(new MemoryStream(bytes)), Name));
        Assert.Contains("needs 32 bytes", error.Message);
        Assert.Contains("only 17 bytes", error.Message);
    }

    [Theory]
    [InlineData("(-1,)")]
    [InlineData("(2, -3)")]
    [InlineData("(-99999999999999999999999,)")]
    public void Reader_rejects_negative_dimension(string shape)
    {
        var error = Fails<ArrayFormatException>(Npy(Header("<f4", shape)));
        Assert.Contains("negative", error.Message);
    }

    [Theory]
    [InlineData("(2147483648,)")]
    [InlineData("(1, 99999999999999999999999999)")]
    public void Reader_rejects_dimension_above_int_max(string shape)
    {
        var error = Fails<ArrayFormatException>(Npy(Header("|u1", shape)));
        Assert.Contains("allowed: 0..2147483647", error.Message);
    }

    [Theory]
    [InlineData("(2147483647, 2147483647, 2147483647)")]
    [InlineData("(1000000, 1000000)")]
    [InlineData("(2147483647, 2147483647, 2147483647, 2147483647, 2147483647)")]
    public void Reader_rejects_huge_declared_shape_without_allocating(string shape)
    {
        byte[] bytes = Npy(Header("<f8", shape), new byte[64]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Fails<ResourceLimitException>(bytes);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("limit", error.Message);
    }

    [Fact]
    public void Reader_rejects_array_larger_than_max_bytes()
    {
        byte[] bytes = Npy(Header("<f4", "(2, 3)"), new byte[24]);
        var error = Fails<ResourceLimitException>(bytes, maxBytes: 20);
        Assert.Contains("24 bytes", error.Message);
        Assert.Contains("limit is 20 bytes", error.Message);
        Assert.Equal(6, ReadBytes(bytes, maxBytes: 24).ElementCount);
    }

    [Fact]
    public void Reader_rejects_data_larger_than_a_dotnet_array_even_under_max_bytes()
    {
        var error = Fails<ResourceLimitException>(Npy(Header("<f8", "(1073741824,)"), new byte[8]), maxBytes: long.MaxValue);
        Assert.Contains("8589934592 bytes", error.Message);
        Assert.Contains($"at most {Array.MaxLength} bytes", error.Message);
    }

    [Fact]
    public void Reader_rejects_huge_declared_shape_on_a_seekable_stream_before_reading_data()
    {
        // 2 GB fits under the default limit, so only the comparison with the stream length stops it.
        byte[] bytes = Npy(Header("|u1", "(2000000000,)"), new byte[100]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Fails<ArrayFormatException>(bytes);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.Contains("needs 2000000000 bytes", error.Message);
        Assert.Contains("only 100 bytes", error.Message);
    }

    [Fact]
    public void Reader_rejects_huge_declared_shape_on_a_non_seekable_stream_without_allocating_the_declared_size()
    {
        byte[] bytes = Npy(Header("|u1", "(2000000000,)"), new byte[100]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<ArrayFormatException>(() => NpyFile.Read(new NonSeekableStream(new MemoryStream(bytes)), Name));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 8 << 20);
        Assert.Contains("only 100 bytes", error.Message);
    }

    [Theory]
    [InlineData("<c8")]
    [InlineData("<f2")]
    [InlineData("<f16")]
    [InlineData("|O")]
    [InlineData("<U5")]
    [InlineData("|S3")]
    [InlineData("<M8[ns]")]
    [InlineData("|V4")]
    [InlineData("")]
    [InlineData("<x4")]
    public void Reader_rejects_unsupported_dtype(string descr)
    {
        var error = Fails<ArrayFormatException>(Npy(Header(descr, "(1,)"), new byte[16]));
        Assert.Equal($"{Name}: dtype '{descr}' is not supported; allowed: bool, int8..int64, uint8..uint64, float32, float64", error.Message);
    }

    [Fact]
    public void Reader_rejects_structured_dtype()
    {
        var error = Fails<ArrayFormatException>(Npy("{'descr': [('x', '<f4'), ('y', '<f4')], 'fortran_order': False, 'shape': (1,), }", new byte[8]));
        Assert.Contains("structured dtype", error.Message);
        Assert.Contains("allowed: bool", error.Message);
    }

    [Fact]
    public void Reader_rejects_non_string_descr()
    {
        var error = Fails<ArrayFormatException>(Npy("{'descr': 4, 'fortran_order': False, 'shape': (1,), }", new byte[8]));
        Assert.Contains("'descr'", error.Message);
    }

    [Theory]
    [InlineData("[1, 2]", "list")]
    [InlineData("'descr'", "string")]
    [InlineData("('<f4', False, (1,))", "tuple")]
    [InlineData("42", "int")]
    [InlineData("None", "None")]
    public void Reader_rejects_non_dict_header(string header, string kind)
    {
        var error = Fails<ArrayFormatException>(Npy(header, new byte[4]));
        Assert.Contains($"is a {kind} literal, not a dict", error.Message);
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), ")]
    [InlineData("{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }")]
    [InlineData("{'descr' '<f4', 'fortran_order': False, 'shape': (1,), }")]
    [InlineData("{'descr': '<f4' 'fortran_order': False, 'shape': (1,), }")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } extra")]
    [InlineData("{'descr': '<f4', 'fortran_order': false, 'shape': (1,), }")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1,,), }")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), },")]
    [InlineData("{'descr': __import__('os'), 'fortran_order': False, 'shape': (1,), }")]
    [InlineData("")]
    [InlineData("\0\0\0\0")]
    public void Reader_rejects_malformed_header_literal(string header)
    {
        var error = Fails<ArrayFormatException>(Npy(header, new byte[4]));
        Assert.Contains("not a valid Python literal", error.Message);
    }

    [Fact]
    public void Reader_rejects_deeply_nested_header_without_overflowing_the_stack()
    {
        string header = "{'descr': " + new string('(', 200_000) + new string(')', 200_000) + ", 'fortran_order': False, 'shape': (1,), }";
        var error = Fails<ArrayFormatException>(Npy(header, new byte[4], major: 2));
        Assert.Contains("nesting deeper than", error.Message);
    }

    [Theory]
    [InlineData("{'fortran_order': False, 'shape': (1,), }", "'descr'")]
    [InlineData("{'descr': '<f4', 'shape': (1,), }", "'fortran_order'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, }", "'shape'")]
    [InlineData("{}", "'descr', 'fortran_order', 'shape'")]
    public void Reader_rejects_header_with_missing_key(string header, string missing)
    {
        var error = Fails<ArrayFormatException>(Npy(header, new byte[4]));
        Assert.Contains($"lacks the key", error.Message);
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void Reader_rejects_header_with_unknown_key()
    {
        var error = Fails<ArrayFormatException>(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", new byte[4]));
        Assert.Contains("unexpected key 'extra'", error.Message);
    }

    [Fact]
    public void Reader_rejects_header_with_non_string_key()
    {
        var error = Fails<ArrayFormatException>(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 3: 1}", new byte[4]));
        Assert.Contains("keys must be the strings", error.Message);
    }

    [Fact]
    public void Reader_rejects_header_with_duplicate_key()
    {
        var error = Fails<ArrayFormatException>(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'shape': (2,)}", new byte[8]));
        Assert.Contains("'shape' more than once", error.Message);
    }

    [Theory]
    [InlineData("[2, 3]")]
    [InlineData("(5)")]
    [InlineData("5")]
    [InlineData("'2, 3'")]
    [InlineData("(2.0, 3)")]
    [InlineData("(2, None)")]
    [InlineData("(2, (3,))")]
    [InlineData("(1e3,)")]
    public void Reader_rejects_shape_that_is_not_a_tuple_of_integers(string shape)
    {
        var error = Fails<ArrayFormatException>(Npy($"{{'descr': '|u1', 'fortran_order': False, 'shape': {shape}, }}", new byte[6]));
        Assert.Contains("'shape'", error.Message);
        Assert.Contains("non-negative integers", error.Message);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("'False'")]
    [InlineData("None")]
    public void Reader_rejects_non_boolean_fortran_order(string value)
    {
        var error = Fails<ArrayFormatException>(Npy($"{{'descr': '|u1', 'fortran_order': {value}, 'shape': (1,), }}", new byte[1]));
        Assert.Contains("'fortran_order'", error.Message);
        Assert.Contains("True or False", error.Message);
    }

    [Fact]
    public void Reader_rejects_invalid_utf8_in_a_version_3_header()
    {
        byte[] bytes = Npy(Header("|u1", "(1,)"), [7], major: 3);
        bytes[12 + 11] = 0xFF; // inside the descr string
        var error = Fails<ArrayFormatException>(bytes);
        Assert.Contains("UTF-8", error.Message);
    }

    public static TheoryData<string> EquivalentHeaders() =>
    [
        "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }",
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<i2'}",
        "{\"descr\":\"<i2\",\"fortran_order\":False,\"shape\":(2,3)}",
        "  {  'fortran_order' : False ,\t'shape' : ( 2 , 3 , ) , 'descr' : '<i2' , }  ",
        "{'descr': 'i2', 'fortran_order': False, 'shape': (2L, 3L), }",
        "{'descr': '=i2', 'fortran_order': False, 'shape': (+2, 0_3), }",
    ];

    [Theory]
    [MemberData(nameof(EquivalentHeaders))]
    public void Reader_accepts_header_with_any_key_order_spacing_and_trailing_commas(string header)
    {
        byte[] data = [1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0];
        NdArray array = ReadBytes(Npy(header, data));
        Assert.Equal(NpyDType.Int16, array.DType);
        Assert.Equal([2, 3], array.Shape);
        Assert.Equal([1L, 2, 3, 4, 5, 6], array.ToInt64());
    }

    [Fact]
    public void Reader_accepts_unpadded_header_without_trailing_newline()
    {
        NdArray array = ReadBytes(Npy(Header("|u1", "(2,)"), [5, 6], pad: false));
        Assert.Equal([5, 6], array.Bytes.ToArray());
    }

    [Fact]
    public void Reader_accepts_zero_length_axis_next_to_huge_axes()
    {
        NdArray array = ReadBytes(Npy(Header("<f8", "(2147483647, 0, 2147483647)")));
        Assert.Equal(0, array.ElementCount);
        Assert.Equal([int.MaxValue, 0, int.MaxValue], array.Shape);
    }

    [Fact]
    public void Reader_reads_big_endian_single_byte_and_pipe_order_descrs()
    {
        Assert.Equal([-1L], ReadBytes(Npy(Header(">i1", "(1,)"), [0xFF])).ToInt64());
        Assert.Equal([true], ReadBytes(Npy(Header("|?", "(1,)"), [1])).ToBoolean());
        Assert.Equal([258L], ReadBytes(Npy(Header(">u2", "()"), [1, 2])).ToInt64());
    }

    [Fact]
    public void Reader_reports_a_missing_file_as_InputFileNotFoundException()
    {
        string path = Path.Combine(Path.GetTempPath(), $"segcam-missing-{Guid.NewGuid():N}", "nope.npy");
        var error = Assert.Throws<InputFileNotFoundException>(() => NpyFile.Read(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Reader_reports_a_directory_path_as_InputFileNotFoundException()
    {
        string dir = Directory.CreateTempSubdirectory("segcam-npy-").FullName;
        try
        {
            var error = Assert.Throws<InputFileNotFoundException>(() => NpyFile.Read(dir));
            Assert.Contains("directory", error.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Reader_names_the_file_path_in_errors()
    {
        string dir = Directory.CreateTempSubdirectory("segcam-npy-").FullName;
        try
        {
            string path = Path.Combine(dir, "bad.npy");
            File.WriteAllBytes(path, Npy(Header("<c8", "(1,)"), new byte[8]));
            var error = Assert.Throws<ArrayFormatException>(() => NpyFile.Read(path));
            Assert.StartsWith(path + ": dtype '<c8' is not supported", error.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Reader_rejects_negative_max_bytes()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ReadBytes(Npy(Header("|u1", "(1,)"), [1]), maxBytes: -1));
    }
}
