using System.Buffers.Binary;
using System.IO.Compression;
using SegCam.Common.Errors;
using SegCam.Volumes.Formats.Nifti;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Tests.Formats;

/// <summary>Malformed and hostile NIfTI files: each is rejected with an error naming the problem, before any large allocation.</summary>
public sealed class NiftiHostileFileTests : IDisposable
{
    private readonly NiftiFormat _format = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("segcam-nifti-hostile-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static byte[] DefaultVoxels => NiftiTestFiles.Bytes(NiftiTestFiles.DefaultVoxels());

    [Fact]
    public void Empty_file()
        => Rejected<VolumeFormatException>(File("empty.nii", []), "empty");

    [Fact]
    public void Truncated_header()
        => Rejected<VolumeFormatException>(File("short.nii", new NiftiTestFiles().Build(DefaultVoxels, 2)[..200]), "truncated", "header");

    [Theory]
    [InlineData("cut.nii")]
    [InlineData("cut.nii.gz")]
    public void Truncated_voxel_data_says_how_many_bytes_are_needed(string name)
    {
        var bytes = new NiftiTestFiles().Build(DefaultVoxels, 2)[..(352 + 30)];
        Rejected<VolumeFormatException>(File(name, name.EndsWith(".gz", StringComparison.Ordinal) ? NiftiTestFiles.Gzip(bytes) : bytes), "truncated", "48 bytes");
    }

    [Theory]
    [InlineData(349)]
    [InlineData(0)]
    [InlineData(-348)]
    public void Wrong_sizeof_hdr(int size)
        => Rejected<VolumeFormatException>(Built(new NiftiTestFiles { SizeOfHeader = size }), "sizeof_hdr", size.ToString(System.Globalization.CultureInfo.InvariantCulture));

    [Theory]
    [InlineData("abc\0", "magic")]
    [InlineData("n+2\0", "magic")]
    [InlineData("ni1\0", ".hdr/.img")]
    public void Bad_or_pair_magic(string magic, string expected)
        => Rejected<VolumeFormatException>(Built(new NiftiTestFiles { Magic = magic }), expected);

    [Fact]
    public void Bad_nifti2_magic()
    {
        var bytes = System.IO.File.ReadAllBytes(VolumeFixtures.File("oblique_int16_nifti2.nii"));
        bytes[8] = (byte)'\n';      // "n+2\0\n\n\x1a\n": a line-ending translation damaged it
        Rejected<VolumeFormatException>(File("n2.nii", bytes), "magic");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(-1)]
    public void Dim0_outside_1_to_7(short rank)
        => Rejected<VolumeFormatException>(Built(new NiftiTestFiles { Dim = [rank, 4, 3, 2, 1, 1, 1, 1] }), "dim[0]", "between 1 and 7");

    [Theory]
    [InlineData(-3)]
    [InlineData(0)]
    public void Non_positive_dimension(short size)
        => Rejected<VolumeFormatException>(Built(new NiftiTestFiles { Dim = [3, 4, size, 2, 1, 1, 1, 1] }), $"dim[2] is {size}");

    [Fact]
    public void Time_series_is_not_supported()
        => Rejected<VolumeFormatException>(Built(new NiftiTestFiles { Dim = [4, 4, 3, 2, 5, 1, 1, 1] }), "4-D", "dim[4] = 5");

    [Fact]
    public void Absurd_nifti1_dims_exceed_the_limits_before_anything_is_allocated()
        => Rejected<ResourceLimitException>(Built(new NiftiTestFiles { Dim = [3, 32000, 32000, 32000, 1, 1, 1, 1] }, voxels: []), "32000×32000×32000");

    [Theory]
    [InlineData(60000L, "exceed the limit")]
    [InlineData(1L << 40, "at most 65536")]
    public void Absurd_nifti2_dims_exceed_the_limits_before_anything_is_allocated(long size, string expected)
    {
        var bytes = System.IO.File.ReadAllBytes(VolumeFixtures.File("oblique_int16_nifti2.nii"));
        for (var d = 1; d <= 3; d++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(16 + (8 * d)), size);
        }

        Rejected<ResourceLimitException>(File("huge.nii", bytes), expected);
    }

    [Fact]
    public void Caller_limits_are_checked_against_the_header()
    {
        var path = Built(new NiftiTestFiles());
        var error = Assert.Throws<ResourceLimitException>(() => _format.Read(path, new VolumeLimits { MaxVoxels = 10 }, TestContext.Current.CancellationToken));
        Assert.Contains("4×3×2", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(32, 64, "complex64")]
    [InlineData(128, 24, "rgb24")]
    [InlineData(1024, 64, "int64")]
    [InlineData(0, 0, "unknown")]
    public void Unsupported_datatype_is_named_with_the_supported_ones(short code, short bitPix, string name)
        => Rejected<VolumeFormatException>(Built(new NiftiTestFiles { DataType = code, BitPix = bitPix }), $"datatype {code} ({name})", "512 (uint16)");

    [Fact]
    public void Bitpix_disagreeing_with_the_datatype()
        => Rejected<VolumeFormatException>(Built(new NiftiTestFiles { BitPix = 32 }), "bitpix is 32", "16 bits");

    [Theory]
    [InlineData(0f)]
    [InlineData(300f)]
    [InlineData(348f)]
    [InlineData(352.5f)]
    [InlineData(float.NaN)]
    public void Vox_offset_inside_the_header_or_fractional(float offset)
        => Rejected<VolumeFormatException>(Built(new NiftiTestFiles { VoxOffset = offset }), "vox_offset");

    [Fact]
    public void Nifti2_vox_offset_inside_the_header()
    {
        var bytes = System.IO.File.ReadAllBytes(VolumeFixtures.File("oblique_int16_nifti2.nii"));
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(168), 500);
        Rejected<VolumeFormatException>(File("n2.nii", bytes), "vox_offset is 500");
    }

    [Fact]
    public void Vox_offset_far_beyond_the_header_is_refused_without_skipping()
        => Rejected<ResourceLimitException>(Built(new NiftiTestFiles { VoxOffset = 1e12f }, voxels: []), "vox_offset");

    [Fact]
    public void Sheared_sform()
        => Rejected<VolumeFormatException>(Built(new NiftiTestFiles { SRows = [1.5f, 0.5f, 0, -10, 0, 2, 0, 20, 0, 0, 3, 5] }), "sheared");

    [Fact]
    public void Degenerate_sform_column()
        => Rejected<VolumeFormatException>(Built(new NiftiTestFiles { SRows = [1.5f, 0, 0, -10, 0, 0, 0, 20, 0, 0, 3, 5] }), "column 1");

    [Fact]
    public void Gzip_bomb_behind_a_small_header_is_read_only_as_far_as_the_header_promises()
    {
        // One member with the honest file followed by 1 MiB of zeros, 31 more members of 1 MiB of zeros, then a member
        // whose deflate data is corrupt: 32 MiB of decompressed data from ~40 KB, and a reader that goes on past the
        // promised 48 voxel bytes to the end fails on the corrupt member.
        var zeros = new byte[1 << 20];
        var zeroMember = NiftiTestFiles.Gzip(zeros);
        using var content = new MemoryStream();
        content.Write(NiftiTestFiles.Gzip(new NiftiTestFiles().Build(DefaultVoxels, 2), zeros));
        for (var m = 1; m < 32; m++)
        {
            content.Write(zeroMember);
        }

        content.Write([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff]);     // gzip header, then deflate block type 3 (reserved)
        var path = File("bomb.nii.gz", content.ToArray());
        Assert.True(content.Length < 200_000, $"{content.Length} bytes");
        Assert.True(DecompressedLength(path) <= -(32L << 20));          // 32 MiB, then the corrupt member

        var volume = _format.Read(path, VolumeLimits.Default, TestContext.Current.CancellationToken);

        Assert.Equal(new GridSize(4, 3, 2), volume.Geometry.Size);
        Assert.Equal(NiftiTestFiles.DefaultVoxels(), volume.Slice<short>(0).ToArray().Concat(volume.Slice<short>(1).ToArray()));
    }

    [Fact]
    public void Gzip_file_promising_a_huge_image_is_refused_without_reading_it()
    {
        var header = new NiftiTestFiles { Dim = [3, 30000, 30000, 30000, 1, 1, 1, 1] }.Build([], 2);
        byte[] bytes = [.. NiftiTestFiles.Gzip(header, new byte[4096]), .. "junk"u8];
        Rejected<ResourceLimitException>(File("huge.nii.gz", bytes), "30000×30000×30000");
    }

    /// <summary>Bytes decompressed from <paramref name="path"/>, negated when decompression then failed.</summary>
    private static long DecompressedLength(string path)
    {
        long total = 0;
        try
        {
            using var gzip = new GZipStream(System.IO.File.OpenRead(path), CompressionMode.Decompress);
            var buffer = new byte[1 << 16];
            int n;
            while ((n = gzip.Read(buffer)) > 0)
            {
                total += n;
            }
        }
        catch (InvalidDataException)
        {
            // The corrupt last member: everything before it was counted.
            return -total;
        }

        return total;
    }

    private void Rejected<TException>(string path, params string[] fragments)
        where TException : Exception
    {
        var error = Assert.Throws<TException>(() => _format.Read(path, VolumeLimits.Default, TestContext.Current.CancellationToken));
        foreach (var fragment in fragments)
        {
            Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
        }
    }

    private string Built(NiftiTestFiles file, byte[]? voxels = null)
        => File($"built-{Guid.NewGuid():N}.nii", file.Build(voxels ?? DefaultVoxels, 2));

    private string File(string name, byte[] content)
    {
        var path = Path.Combine(_folder, name);
        System.IO.File.WriteAllBytes(path, content);
        return path;
    }
}
