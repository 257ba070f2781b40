using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using SegCam.Common.Errors;
using SegCam.Volumes.Formats.MetaImage;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Tests.Formats;

public sealed class MetaImageTests : IDisposable
{
    private const string Plastimatch = "/usr/bin/plastimatch";

    private static readonly Direction3 Oblique = Rotation(0.35, -0.25);

    // A reflection: the k axis of the oblique frame reversed (determinant −1).
    private static readonly Direction3 LeftHanded = new(Oblique.I, Oblique.J, Oblique.K * -1);

    private readonly string _folder = Directory.CreateTempSubdirectory("segcam-metaimage-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    // ---- plastimatch (ITK) fixtures -------------------------------------------------------------------------------

    [Theory]
    [InlineData("oblique_int16.mha")]
    [InlineData("oblique_int16.mhd")]
    public void Plastimatch_fixtures_read_with_their_geometry_and_voxels(string name)
    {
        var volume = new MetaImageFormat().Read(VolumeFixtures.File(name), VolumeLimits.Default, Token);
        VolumeFixtures.AssertMatches(volume, name, 1e-4);
    }

    // ---- round trips ----------------------------------------------------------------------------------------------

    public static TheoryData<VoxelType, string, bool, bool> RoundTripCases()
    {
        var cases = new TheoryData<VoxelType, string, bool, bool>();
        foreach (var type in Enum.GetValues<VoxelType>())
        {
            foreach (var extension in new[] { ".mha", ".mhd" })
            {
                foreach (var compress in new[] { false, true })
                {
                    foreach (var leftHanded in new[] { false, true })
                    {
                        cases.Add(type, extension, compress, leftHanded);
                    }
                }
            }
        }

        return cases;
    }

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void Written_images_read_back_identically(VoxelType type, string extension, bool compress, bool leftHanded)
    {
        var volume = Phantom(type, leftHanded ? LeftHanded : Oblique, seed: (int)type);
        var path = Path.Combine(_folder, "round" + extension);
        new MetaImageFormat { Compress = compress }.Write(volume, path, Token);

        var back = new MetaImageFormat().Read(path, VolumeLimits.Default, Token);

        Assert.Equal(type, back.Type);
        Assert.True(volume.Geometry.SameGrid(back.Geometry, 1e-6), $"wrote {volume.Geometry}, read {back.Geometry}");
        AssertSameVoxels(volume, back);
        var header = HeaderText(path);
        Assert.Contains(compress ? "CompressedData = True\n" : "CompressedData = False\n", header, StringComparison.Ordinal);
        if (extension == ".mhd")
        {
            var dataName = "round" + (compress ? ".zraw" : ".raw");
            Assert.EndsWith($"ElementDataFile = {dataName}\n", header, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(_folder, dataName)));
        }
        else
        {
            Assert.Contains("ElementDataFile = LOCAL\n", header, StringComparison.Ordinal);
        }

        Assert.Equal([Path.GetFileName(path), .. extension == ".mhd" ? new[] { "round" + (compress ? ".zraw" : ".raw") } : []], Directory.GetFiles(_folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Written_header_has_the_keys_and_direction_order_ITK_uses()
    {
        var volume = Phantom(VoxelType.Int16, Oblique, seed: 1);
        var path = Path.Combine(_folder, "keys.mha");
        new MetaImageFormat().Write(volume, path, Token);

        var lines = HeaderText(path).TrimEnd('\n').Split('\n');
        var keys = lines.Select(l => l[..l.IndexOf(" = ", StringComparison.Ordinal)]).ToArray();
        Assert.Equal(
            ["ObjectType", "NDims", "BinaryData", "BinaryDataByteOrderMSB", "CompressedData", "TransformMatrix", "Offset", "CenterOfRotation", "ElementSpacing", "DimSize", "ElementType", "ElementDataFile"],
            keys);
        Assert.Equal("DimSize = 5 4 3", lines[9]);
        Assert.Equal("ElementType = MET_SHORT", lines[10]);

        // ITK writes the direction of index axis 0 first (a column of the direction matrix), then axes 1 and 2.
        var matrix = lines[5]["TransformMatrix = ".Length..].Split(' ').Select(s => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(new[] { Oblique.I.X, Oblique.I.Y, Oblique.I.Z, Oblique.J.X, Oblique.J.Y, Oblique.J.Z, Oblique.K.X, Oblique.K.Y, Oblique.K.Z }, matrix);
    }

    // ---- cross-tool: ITK (through plastimatch) reads our files as we mean them ------------------------------------

    [Theory]
    [InlineData("ours.mha", false, false)]
    [InlineData("ours.mhd", true, true)]
    public void Plastimatch_reads_our_files_with_the_same_geometry(string name, bool compress, bool leftHanded)
    {
        if (!File.Exists(Plastimatch))
        {
            Assert.Skip("plastimatch not installed (apt-get install plastimatch)");
        }

        var volume = Phantom(VoxelType.Int16, leftHanded ? LeftHanded : Oblique, seed: 7);
        var ours = Path.Combine(_folder, name);
        var theirs = Path.Combine(_folder, "theirs.mha");
        new MetaImageFormat { Compress = compress }.Write(volume, ours, Token);

        RunPlastimatch("convert", "--input", ours, "--output-img", theirs);

        var back = new MetaImageFormat().Read(theirs, VolumeLimits.Default, Token);
        Assert.Equal(VoxelType.Int16, back.Type);
        Assert.True(volume.Geometry.SameGrid(back.Geometry, 1e-4), $"wrote {volume.Geometry}, ITK wrote back {back.Geometry}");
        AssertSameVoxels(volume, back);
    }

    // ---- hand-written headers -------------------------------------------------------------------------------------

    [Theory]
    [InlineData("BinaryDataByteOrderMSB")]
    [InlineData("ElementByteOrderMSB")]
    public void Big_endian_voxels_are_swapped(string key)
    {
        short[] values = [1, -2, 300, -400, short.MaxValue, short.MinValue, 5, 0x1234];
        var data = new byte[values.Length * 2];
        for (var v = 0; v < values.Length; v++)
        {
            BinaryPrimitives.WriteInt16BigEndian(data.AsSpan(v * 2), values[v]);
        }

        var volume = Read(WriteMha("be.mha", $"ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_SHORT\n{key} = True\nElementDataFile = LOCAL\n", data));

        Assert.Equal(values, Enumerable.Range(0, 2).SelectMany(k => volume.Slice<short>(k).ToArray()));
    }

    [Fact]
    public void Big_endian_floats_are_swapped()
    {
        float[] values = [1.5f, -2.25f, 1e-20f, 3.4e38f];
        var data = new byte[values.Length * 4];
        for (var v = 0; v < values.Length; v++)
        {
            BinaryPrimitives.WriteSingleBigEndian(data.AsSpan(v * 4), values[v]);
        }

        var volume = Read(WriteMha("bef.mha", "NDims = 3\nDimSize = 4 1 1\nElementType = MET_FLOAT\nBinaryDataByteOrderMSB = True\nElementDataFile = LOCAL\n", data));

        Assert.Equal(values, volume.Slice<float>(0).ToArray());
    }

    [Theory]
    [InlineData("Position = 10 20 30\nOrientation = 0 1 0 -1 0 0 0 0 1\nElementSize = 0.5 2 3\n")]
    [InlineData("Origin = 10 20 30\nRotation = 0 1 0 -1 0 0 0 0 1\nElementSpacing = 0.5 2 3\n")]
    [InlineData("Offset = 10 20 30\nOrigin = 10 20 30\nTransformMatrix = 0 1 0 -1 0 0 0 0 1\nElementSpacing = 0.5 2 3\nElementSize = 9 9 9\n")]
    public void Origin_direction_and_spacing_synonyms_are_understood(string geometryLines)
    {
        var volume = Read(WriteMha("syn.mha", $"ObjectType = Image\nNDims = 3\n{geometryLines}DimSize = 2 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", new byte[8]));

        var g = volume.Geometry;
        Assert.Equal(new Vector3(10, 20, 30), g.Origin);
        Assert.Equal(new Vector3(0.5, 2, 3), g.Spacing);
        Assert.Equal(new Direction3(new Vector3(0, 1, 0), new Vector3(-1, 0, 0), new Vector3(0, 0, 1)), g.Direction);
        Assert.Equal(new Vector3(10 - 2, 20 + 0.5, 30 + 3), g.IndexToPhysical(1, 1, 1));
    }

    [Fact]
    public void Two_dimensional_image_reads_as_one_slice()
    {
        byte[] data = [1, 2, 3, 4, 5, 6];
        var volume = Read(WriteMha("flat.mha", "ObjectType = Image\nNDims = 2\nDimSize = 3 2\nElementSpacing = 0.5 2\nOffset = 10 20\nTransformMatrix = 0 1 -1 0\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", data));

        Assert.Equal(new GridSize(3, 2, 1), volume.Geometry.Size);
        Assert.Equal(new Vector3(10 - 2, 20 + 0.5, 0), volume.Geometry.IndexToPhysical(1, 1, 0));
        Assert.Equal(data, volume.SliceData(0).ToArray());
        Assert.Equal(6, volume[2, 1, 0]);
    }

    [Fact]
    public void Detached_data_honours_header_size()
    {
        byte[] voxels = [9, 8, 7, 6];
        File.WriteAllBytes(Path.Combine(_folder, "skip.dat"), [0xAA, 0xBB, 0xCC, .. voxels, 0xDD]);
        File.WriteAllText(Path.Combine(_folder, "skip.mhd"), "NDims = 3\nDimSize = 2 2 1\nElementType = MET_UCHAR\nHeaderSize = 3\nElementDataFile = skip.dat\n");
        File.WriteAllBytes(Path.Combine(_folder, "tail.raw"), [0xAA, 0xBB, .. voxels]);
        File.WriteAllText(Path.Combine(_folder, "tail.mhd"), "NDims = 3\nDimSize = 2 2 1\nElementType = MET_UCHAR\nHeaderSize = -1\nElementDataFile = tail.raw");

        Assert.Equal(voxels, Read(Path.Combine(_folder, "skip.mhd")).SliceData(0).ToArray());
        Assert.Equal(voxels, Read(Path.Combine(_folder, "tail.mhd")).SliceData(0).ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Compressed_data_without_a_size_and_gzip_streams_are_read(bool gzip)
    {
        var voxels = Enumerable.Range(0, 60).Select(v => (byte)(v * 3)).ToArray();
        var compressed = gzip ? Gzip(voxels) : Zlib(voxels);
        var volume = Read(WriteMha("z.mha", "NDims = 3\nDimSize = 5 4 3\nElementType = MET_UCHAR\nCompressedData = True\nElementDataFile = LOCAL\n", compressed));

        Assert.Equal(voxels, Enumerable.Range(0, 3).SelectMany(k => volume.SliceData(k).ToArray()));
    }

    // ---- hostile files --------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("", "empty")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\n", "no ElementDataFile")]
    [InlineData("NDims = 3\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", "no DimSize")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementDataFile = LOCAL\n", "no ElementType")]
    [InlineData("DimSize = 2 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", "no NDims")]
    [InlineData("NDims = 3\nDimSize = 2 0 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", "at least one voxel")]
    [InlineData("NDims = 3\nDimSize = 2 2 -4\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", "at least one voxel")]
    [InlineData("NDims = 3\nDimSize = 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", "DimSize has 2 values")]
    [InlineData("NDims = 3\nDimSize = 2 x 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", "whole numbers")]
    [InlineData("NDims = 4\nDimSize = 2 2 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", "NDims = 4")]
    [InlineData("NDims = 1\nDimSize = 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", "NDims = 1")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_LONG_LONG\nElementDataFile = LOCAL\n", "allowed: MET_UCHAR, MET_CHAR, MET_USHORT, MET_SHORT, MET_UINT, MET_INT, MET_FLOAT, MET_DOUBLE")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nElementNumberOfChannels = 3\nElementDataFile = LOCAL\n", "ElementNumberOfChannels = 3")]
    [InlineData("ObjectType = Tube\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", "only Image")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nBinaryData = False\nElementDataFile = LOCAL\n", "ASCII")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nTransformMatrix = 1 0 0 0.5 1 0 0 0 1\nElementDataFile = LOCAL\n", "not orthonormal")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nTransformMatrix = 2 0 0 0 2 0 0 0 2\nElementDataFile = LOCAL\n", "not orthonormal")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nTransformMatrix = 1 0 0 0 1 0\nElementDataFile = LOCAL\n", "TransformMatrix has 6 values")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nElementSpacing = 1 0 1\nElementDataFile = LOCAL\n", "spacing")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nOffset = 1 nan 1\nElementDataFile = LOCAL\n", "finite numbers")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nOffset = 1 2 3\nOrigin = 1 2 4\nElementDataFile = LOCAL\n", "Offset and Origin both give the origin and disagree")]
    [InlineData("NDims = 3\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", "NDims appears more than once")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nCompressedData = maybe\nElementDataFile = LOCAL\n", "not True or False")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nElementDataFile = LIST\nslice1.raw\n", "file lists")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nElementDataFile = slice%03d.raw 1 2 1\n", "patterns")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nHeaderSize = -1\nCompressedData = True\nElementDataFile = LOCAL\n", "cannot locate compressed data")]
    [InlineData("NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nHeaderSize = 5\nElementDataFile = LOCAL\n", "points inside the header")]
    [InlineData("\u0089PNG\r\n\u001a\n", "not 'Key = Value'")]
    public void Malformed_headers_are_rejected_with_a_clear_message(string header, string fragment)
    {
        var path = WriteMha("bad.mha", header, header.Contains("ElementDataFile", StringComparison.Ordinal) ? new byte[64] : []);
        var ex = Assert.Throws<VolumeFormatException>(() => Read(path));
        Assert.Contains(fragment, ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Header_over_one_mebibyte_without_element_data_file_is_rejected()
    {
        var header = "NDims = 3\n" + string.Concat(Enumerable.Repeat("Comment = padding padding padding padding\n", 30_000));
        var ex = Assert.Throws<VolumeFormatException>(() => Read(WriteMha("long.mha", header, [])));
        Assert.Contains("first 1,048,576 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Absurd_sizes_are_refused_before_allocating()
    {
        var ex = Assert.Throws<ResourceLimitException>(() => Read(WriteMha("huge.mha", "NDims = 3\nDimSize = 60000 60000 60000\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", new byte[16])));
        Assert.Contains("60000×60000×60000", ex.Message, StringComparison.Ordinal);

        var beyond = Assert.Throws<ResourceLimitException>(() => Read(WriteMha("huger.mha", "NDims = 3\nDimSize = 9999999999 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", new byte[16])));
        Assert.Contains("9,999,999,999", beyond.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Caller_limits_are_applied()
    {
        var path = WriteMha("limited.mha", "NDims = 3\nDimSize = 64 64 64\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n", new byte[64 * 64 * 64 * 4]);
        Assert.Throws<ResourceLimitException>(() => new MetaImageFormat().Read(path, new VolumeLimits { MaxBytes = 1 << 19 }, Token));
        Assert.Equal(new GridSize(64, 64, 64), Read(path).Geometry.Size);
    }

    [Fact]
    public void Truncated_data_is_reported_with_the_bytes_needed()
    {
        var ex = Assert.Throws<VolumeFormatException>(() => Read(WriteMha("short.mha", "NDims = 3\nDimSize = 4 4 4\nElementType = MET_SHORT\nElementDataFile = LOCAL\n", new byte[100])));
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
        Assert.Contains("needs 128 bytes, only 100 are present", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_detached_data_is_reported_with_the_bytes_needed()
    {
        File.WriteAllBytes(Path.Combine(_folder, "short.raw"), new byte[10]);
        File.WriteAllText(Path.Combine(_folder, "short.mhd"), "NDims = 3\nDimSize = 2 2 3\nElementType = MET_UCHAR\nElementDataFile = short.raw\n");
        var ex = Assert.Throws<VolumeFormatException>(() => Read(Path.Combine(_folder, "short.mhd")));
        Assert.Contains("needs 12 bytes, only 10 are present", ex.Message, StringComparison.Ordinal);
        Assert.Contains("short.raw", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_compressed_data_is_rejected()
    {
        var voxels = new byte[4 * 4 * 4 * 2];
        new Random(5).NextBytes(voxels);
        var compressed = Zlib(voxels);
        var cut = compressed[..(compressed.Length / 2)];
        const string Header = "NDims = 3\nDimSize = 4 4 4\nElementType = MET_SHORT\nCompressedData = True\n";

        var ex = Assert.Throws<VolumeFormatException>(() => Read(WriteMha("cut.mha", $"{Header}CompressedDataSize = {cut.Length}\nElementDataFile = LOCAL\n", cut)));
        Assert.Contains("needs 32 bytes", ex.Message, StringComparison.Ordinal);

        // A CompressedDataSize beyond the end of the file.
        var promised = Assert.Throws<VolumeFormatException>(() => Read(WriteMha("cut2.mha", $"{Header}CompressedDataSize = {compressed.Length}\nElementDataFile = LOCAL\n", cut)));
        Assert.Contains($"needs {compressed.Length} bytes, only {cut.Length} are present", promised.Message, StringComparison.Ordinal);

        // Not zlib at all.
        var garbage = Assert.Throws<VolumeFormatException>(() => Read(WriteMha("junk.mha", $"{Header}ElementDataFile = LOCAL\n", Enumerable.Repeat((byte)0xFF, 200).ToArray())));
        Assert.Contains("compressed", garbage.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Zlib_bomb_behind_a_small_promise_is_read_only_as_far_as_promised()
    {
        // 64 promised voxels, then 2 MiB of zeros, and the stream cut in half: inflating a single byte beyond the
        // promise would run into the cut and fail, so success shows the reader stops exactly where the header says.
        var voxels = Enumerable.Range(0, 64).Select(v => (byte)(v + 1)).ToArray();
        byte[] bomb;
        using (var buffer = new MemoryStream())
        {
            using (var zlib = new ZLibStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
            {
                zlib.Write(voxels);
                zlib.Write(new byte[2 << 20]);
            }

            bomb = buffer.ToArray();
        }

        var cut = bomb[..(bomb.Length / 2)];
        var volume = Read(WriteMha("bomb.mha", $"NDims = 3\nDimSize = 4 4 4\nElementType = MET_UCHAR\nCompressedData = True\nCompressedDataSize = {cut.Length}\nElementDataFile = LOCAL\n", cut));

        Assert.Equal(voxels, Enumerable.Range(0, 4).SelectMany(k => volume.SliceData(k).ToArray()));
    }

    [Fact]
    public void Zlib_bomb_with_a_huge_promise_is_refused_before_allocating()
    {
        var small = Zlib(new byte[1 << 16]);
        var ex = Assert.Throws<ResourceLimitException>(() => Read(WriteMha("bomb2.mha", $"NDims = 3\nDimSize = 60000 60000 60000\nElementType = MET_DOUBLE\nCompressedData = True\nCompressedDataSize = {small.Length}\nElementDataFile = LOCAL\n", small)));
        Assert.Contains("exceed the limit", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_detached_data_file_is_named()
    {
        File.WriteAllText(Path.Combine(_folder, "orphan.mhd"), "NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nElementDataFile = orphan_voxels.raw\n");
        var ex = Assert.Throws<VolumeFormatException>(() => Read(Path.Combine(_folder, "orphan.mhd")));
        Assert.Contains("orphan_voxels.raw", ex.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Detached_header_must_end_with_element_data_file()
    {
        File.WriteAllBytes(Path.Combine(_folder, "after.raw"), new byte[8]);
        File.WriteAllText(Path.Combine(_folder, "after.mhd"), "NDims = 3\nDimSize = 2 2 2\nElementDataFile = after.raw\nElementType = MET_UCHAR\n");
        var ex = Assert.Throws<VolumeFormatException>(() => Read(Path.Combine(_folder, "after.mhd")));
        Assert.Contains("must be its last line", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_header_file_is_not_found()
        => Assert.Throws<InputFileNotFoundException>(() => Read(Path.Combine(_folder, "nothing.mha")));

    [Fact]
    public void Reading_honours_cancellation()
    {
        var path = Path.Combine(_folder, "cancel.mha");
        new MetaImageFormat().Write(Phantom(VoxelType.UInt8, Oblique, 3), path, Token);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => new MetaImageFormat().Read(path, VolumeLimits.Default, cancelled.Token));
    }

    // ---- writing never leaves partial files -----------------------------------------------------------------------

    [Theory]
    [InlineData("gone/out.mha")]
    [InlineData("gone/out.mhd")]
    public void Writing_into_a_missing_directory_throws_and_creates_nothing(string name)
    {
        var path = Path.Combine(_folder, name);
        Assert.Throws<InputFileNotFoundException>(() => new MetaImageFormat().Write(Phantom(VoxelType.UInt8, Oblique, 2), path, Token));
        Assert.Empty(Directory.GetFileSystemEntries(_folder));
    }

    [Theory]
    [InlineData("keep.mha", false)]
    [InlineData("keep.mha", true)]
    [InlineData("keep.mhd", false)]
    public void Cancelled_write_leaves_the_old_file_and_no_temporaries(string name, bool compress)
    {
        var path = Path.Combine(_folder, name);
        var old = Phantom(VoxelType.Int16, Oblique, 4);
        new MetaImageFormat { Compress = compress }.Write(old, path, Token);
        var before = Directory.GetFiles(_folder).Order().Select(f => (f, File.ReadAllBytes(f))).ToArray();

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => new MetaImageFormat { Compress = compress }.Write(Phantom(VoxelType.Int16, LeftHanded, 5), path, cancelled.Token));

        var after = Directory.GetFiles(_folder).Order().Select(f => (f, File.ReadAllBytes(f))).ToArray();
        Assert.Equal(before.Select(b => b.f), after.Select(a => a.f));
        Assert.All(before.Zip(after), p => Assert.Equal(p.First.Item2, p.Second.Item2));
        Assert.True(old.ContentEquals(Read(path)));
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    private static Direction3 Rotation(double about, double tilt)
    {
        var c = Math.Cos(about);
        var s = Math.Sin(about);
        var ct = Math.Cos(tilt);
        var st = Math.Sin(tilt);
        return new Direction3(new Vector3(c, s, 0), new Vector3(-s * ct, c * ct, st), new Vector3(s * st, -c * st, ct));
    }

    /// <summary>A small oblique image with non-unit spacing and pseudo-random voxel bytes (every bit pattern, so byte-exact comparisons).</summary>
    private static Volume Phantom(VoxelType type, Direction3 direction, int seed)
    {
        var geometry = new VolumeGeometry(new GridSize(5, 4, 3), new Vector3(0.7, 1.3, 2.9), new Vector3(-12.5, 33.25, 7.125), direction);
        var volume = new Volume(geometry, type);
        var random = new Random(seed);
        for (var k = 0; k < geometry.Size.K; k++)
        {
            random.NextBytes(volume.SliceData(k));
        }

        return volume;
    }

    private static void AssertSameVoxels(Volume expected, Volume actual)
    {
        Assert.Equal(expected.Geometry.Size, actual.Geometry.Size);
        for (var k = 0; k < expected.Geometry.Size.K; k++)
        {
            Assert.True(expected.SliceData(k).SequenceEqual(actual.SliceData(k)), $"slice {k} differs");
        }
    }

    private static Volume Read(string path) => new MetaImageFormat().Read(path, VolumeLimits.Default, Token);

    private string WriteMha(string name, string header, byte[] data)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, [.. Encoding.Latin1.GetBytes(header), .. data]);
        return path;
    }

    private static string HeaderText(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var text = Encoding.Latin1.GetString(bytes);
        var end = text.IndexOf('\n', text.IndexOf("ElementDataFile = ", StringComparison.Ordinal));
        return text[..(end + 1)];
    }

    private static byte[] Zlib(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var zlib = new ZLibStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(data);
        }

        return buffer.ToArray();
    }

    private static byte[] Gzip(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return buffer.ToArray();
    }

    private static void RunPlastimatch(params string[] arguments)
    {
        var start = new ProcessStartInfo(Plastimatch) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("plastimatch did not start");
        var output = process.StandardOutput.ReadToEndAsync(Token);
        var errors = process.StandardError.ReadToEndAsync(Token);
        Assert.True(process.WaitForExit(30_000), "plastimatch took over 30 s");
        Assert.True(process.ExitCode == 0, $"plastimatch {string.Join(' ', arguments)} failed ({process.ExitCode}): {output.Result}{errors.Result}");
    }
}
