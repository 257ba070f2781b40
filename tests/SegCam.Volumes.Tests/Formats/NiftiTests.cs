using System.Buffers.Binary;
using SegCam.Common.Errors;
using SegCam.Volumes.Formats.Nifti;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Tests.Formats;

public sealed class NiftiTests : IDisposable
{
    private readonly NiftiFormat _format = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("segcam-nifti-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("oblique_int16.nii.gz")]
    [InlineData("oblique_int16_nifti2.nii")]
    [InlineData("sform_over_qform.nii")]
    [InlineData("qform_only.nii")]
    [InlineData("scaled.nii")]
    [InlineData("labels_uint8.nii.gz")]
    public void Nibabel_fixtures_read_with_their_geometry_and_values(string name)
    {
        var volume = _format.Read(VolumeFixtures.File(name), VolumeLimits.Default, Token);
        VolumeFixtures.AssertMatches(volume, name, 1e-4);
    }

    [Theory]
    [InlineData("oblique_int16.nii.gz", "renamed.nii")]
    [InlineData("qform_only.nii", "renamed.nii.gz")]
    public void Compression_is_recognised_by_content_not_by_name(string name, string copyName)
    {
        var copy = Path.Combine(_folder, copyName);
        File.Copy(VolumeFixtures.File(name), copy);
        VolumeFixtures.AssertMatches(_format.Read(copy, VolumeLimits.Default, Token), name, 1e-4);
    }

    [Theory]
    [InlineData("qform_only.nii", 1)]
    [InlineData("oblique_int16_nifti2.nii", 2)]
    public void Big_endian_copies_of_the_fixtures_read_the_same(string name, int version)
    {
        var path = Path.Combine(_folder, "big.nii");
        File.WriteAllBytes(path, NiftiTestFiles.ToBigEndian(File.ReadAllBytes(VolumeFixtures.File(name)), version));
        VolumeFixtures.AssertMatches(_format.Read(path, VolumeLimits.Default, Token), name, 1e-4);
    }

    [Fact]
    public void Hand_written_big_endian_file_reads_like_the_little_endian_one()
    {
        var voxels = NiftiTestFiles.Bytes(NiftiTestFiles.DefaultVoxels());
        var little = Path.Combine(_folder, "little.nii");
        var big = Path.Combine(_folder, "big.nii");
        File.WriteAllBytes(little, new NiftiTestFiles().Build(voxels, 2));
        var bigBytes = new NiftiTestFiles { BigEndian = true }.Build(voxels, 2);
        Assert.Equal(new byte[] { 0, 0, 1, 0x5c }, bigBytes[..4]);
        File.WriteAllBytes(big, bigBytes);

        var fromLittle = _format.Read(little, VolumeLimits.Default, Token);
        var fromBig = _format.Read(big, VolumeLimits.Default, Token);

        Assert.True(fromBig.ContentEquals(fromLittle));
        Assert.Equal(VoxelType.Int16, fromBig.Type);
        Assert.Equal(NiftiTestFiles.DefaultVoxels(), fromBig.Slice<short>(0).ToArray().Concat(fromBig.Slice<short>(1).ToArray()));
        Assert.Equal(-50 + 3 - 14 + 100, fromBig[1, 2, 1]);
    }

    [Theory]
    [InlineData(2, 1.0)]
    [InlineData(0, 1.0)]
    [InlineData(1, 1000.0)]
    [InlineData(3, 0.001)]
    public void Sform_is_converted_from_ras_and_its_spatial_unit(byte units, double millimetres)
    {
        // Default sform: RAS diag(1.5, 2, 3), offset (−10, 20, 5).
        var volume = ReadBuilt(new NiftiTestFiles { XyztUnits = (byte)(units | 8) });
        var expected = new VolumeGeometry(
            new GridSize(4, 3, 2),
            new Vector3(1.5, 2, 3) * millimetres,
            new Vector3(10, -20, 5) * millimetres,
            new Direction3(new Vector3(-1, 0, 0), new Vector3(0, -1, 0), new Vector3(0, 0, 1)));
        Assert.True(expected.SameGrid(volume.Geometry, 1e-6 * millimetres), volume.Geometry.ToString());
    }

    [Fact]
    public void Qform_quaternion_offset_and_negative_qfac_are_applied()
    {
        // 90° about z (RAS): i → +y, j → −x; qfac −1 flips k to −z. Offset (1, 2, 3) RAS.
        var half = (float)Math.Sqrt(0.5);
        var volume = ReadBuilt(new NiftiTestFiles
        {
            SformCode = 0,
            QformCode = 1,
            Quatern = [0, 0, half],
            QOffset = [1, 2, 3],
            PixDim = [-1, 1.5f, 2, 3, 1, 1, 1, 1],
        });

        var g = volume.Geometry;
        AssertClose(new Vector3(-1, -2, 3), g.IndexToPhysical(0, 0, 0));
        AssertClose(new Vector3(-1, -2 - 1.5, 3), g.IndexToPhysical(1, 0, 0));
        AssertClose(new Vector3(-1 + 2, -2, 3), g.IndexToPhysical(0, 1, 0));
        AssertClose(new Vector3(-1, -2, 3 - 3), g.IndexToPhysical(0, 0, 1));
    }

    [Fact]
    public void Without_qform_or_sform_pixdim_gives_an_axis_aligned_ras_grid_at_the_origin()
    {
        var volume = ReadBuilt(new NiftiTestFiles { SformCode = 0, QformCode = 0 });
        var g = volume.Geometry;
        AssertClose(default, g.IndexToPhysical(0, 0, 0));
        AssertClose(new Vector3(-1.5 * 3, -2 * 2, 3 * 1), g.IndexToPhysical(3, 2, 1));
    }

    [Fact]
    public void Sform_wins_over_qform()
    {
        var volume = ReadBuilt(new NiftiTestFiles { SformCode = 2, QformCode = 1, Quatern = [1, 0, 0], QOffset = [100, 100, 100] });
        AssertClose(new Vector3(10, -20, 5), volume.Geometry.Origin);
    }

    [Theory]
    [InlineData(0.5f, 10f, VoxelType.Float32)]
    [InlineData(1f, 3f, VoxelType.Float32)]
    [InlineData(1f, 0f, VoxelType.Int16)]
    [InlineData(0f, 7f, VoxelType.Int16)]
    [InlineData(float.NaN, float.NaN, VoxelType.Int16)]
    public void Scl_slope_and_inter_give_float32_unless_they_are_the_identity(float slope, float inter, VoxelType expectedType)
    {
        var volume = ReadBuilt(new NiftiTestFiles { SclSlope = slope, SclInter = inter });
        Assert.Equal(expectedType, volume.Type);
        var raw = NiftiTestFiles.DefaultVoxels();
        var scaled = expectedType == VoxelType.Float32;
        for (var v = 0; v < raw.Length; v++)
        {
            var expected = scaled ? (float)((raw[v] * (double)slope) + inter) : raw[v];
            Assert.Equal(expected, volume[v % 4, v / 4 % 3, v / 12]);
        }
    }

    [Fact]
    public void Extension_bytes_between_header_and_vox_offset_are_skipped()
    {
        // Extension flag 1, then one extension (esize 32, ecode 4) whose content is not voxel data.
        byte[] extensions = [1, 0, 0, 0, 32, 0, 0, 0, 4, 0, 0, 0, .. "not voxels"u8, 0xff, 0xff];
        var files = new NiftiTestFiles { VoxOffset = 384, Extensions = extensions };
        var bytes = files.Build(NiftiTestFiles.Bytes(NiftiTestFiles.DefaultVoxels()), 2);
        foreach (var (name, content) in new[] { ("ext.nii", bytes), ("ext.nii.gz", NiftiTestFiles.Gzip(bytes)) })
        {
            var path = Path.Combine(_folder, name);
            File.WriteAllBytes(path, content);
            var volume = _format.Read(path, VolumeLimits.Default, Token);
            Assert.Equal(-50, volume[0, 0, 0]);
            Assert.Equal(-50 + 9 - 14 + 100, volume[3, 2, 1]);
        }
    }

    public static TheoryData<VoxelType, string> TypesAndEndings()
    {
        var data = new TheoryData<VoxelType, string>();
        foreach (var type in Enum.GetValues<VoxelType>())
        {
            data.Add(type, ".nii");
            data.Add(type, ".nii.gz");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TypesAndEndings))]
    public void Round_trip_keeps_geometry_and_every_voxel_bit(VoxelType type, string ending)
    {
        var oblique = Rotation(0.4, -0.3);
        foreach (var direction in new[] { oblique, oblique with { K = oblique.K * -1 } })
        {
            var geometry = new VolumeGeometry(new GridSize(5, 4, 3), new Vector3(0.7, 1.3, 2.9), new Vector3(-12.5, 30.25, 7), direction);
            var volume = new Volume(geometry, type);
            var random = new Random(42 + (int)type);
            for (var k = 0; k < 3; k++)
            {
                random.NextBytes(volume.SliceData(k));
            }

            var path = Path.Combine(_folder, "round" + ending);
            _format.Write(volume, path, Token);
            var back = _format.Read(path, VolumeLimits.Default, Token);

            Assert.Equal(ending == ".nii.gz", IsGzip(path));
            Assert.Equal(type, back.Type);
            Assert.True(geometry.SameGrid(back.Geometry, 1e-4), $"wrote {geometry}, read {back.Geometry}");
            for (var k = 0; k < 3; k++)
            {
                Assert.True(volume.SliceData(k).SequenceEqual(back.SliceData(k)), $"slice {k} differs");
            }
        }
    }

    public static TheoryData<int> Directions() => [0, 1, 2, 3, 4];

    [Theory]
    [MemberData(nameof(Directions))]
    public void Written_qform_describes_the_same_grid_as_the_sform(int which)
    {
        var oblique = Rotation(0.4, -0.3);
        var direction = which switch
        {
            0 => oblique,
            1 => oblique with { K = oblique.K * -1 },
            2 => Direction3.Identity,                                               // RAS 180° about z
            3 => new Direction3(new Vector3(1, 0, 0), new Vector3(0, 1, 0), new Vector3(0, 0, -1)), // left-handed
            _ => new Direction3(new Vector3(0, 0, 1), new Vector3(1, 0, 0), new Vector3(0, 1, 0)),  // sagittal-like permutation
        };
        var geometry = new VolumeGeometry(new GridSize(3, 4, 5), new Vector3(0.9, 1.1, 3.3), new Vector3(4, -8, 15.5), direction);
        var path = Path.Combine(_folder, "q.nii");
        _format.Write(new Volume(geometry, VoxelType.UInt8), path, Token);

        var bytes = File.ReadAllBytes(path);
        Assert.Equal(direction.Determinant < 0 ? -1f : 1f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(76)));
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(254), 0);       // sform_code = 0: the qform alone
        File.WriteAllBytes(path, bytes);
        var back = _format.Read(path, VolumeLimits.Default, Token);
        Assert.True(geometry.SameGrid(back.Geometry, 1e-4), $"wrote {geometry}, qform reads {back.Geometry}");
    }

    [Fact]
    public void Written_header_follows_the_nifti1_layout()
    {
        var geometry = new VolumeGeometry(new GridSize(3, 2, 2), new Vector3(2, 3, 4), new Vector3(10, 20, 30), Direction3.Identity);
        var volume = new Volume(geometry, VoxelType.Int16);
        volume[1, 0, 0] = -2;
        volume[2, 1, 1] = 300;
        var path = Path.Combine(_folder, "layout.nii");
        _format.Write(volume, path, Token);
        var b = File.ReadAllBytes(path);

        Assert.Equal(352 + (12 * 2), b.Length);
        Assert.Equal(348, I32(b, 0));
        Assert.Equal("n+1\0"u8.ToArray(), b[344..348]);
        Assert.Equal(new short[] { 3, 3, 2, 2, 1, 1, 1, 1 }, Enumerable.Range(0, 8).Select(d => I16(b, 40 + (2 * d))));
        Assert.Equal(4, I16(b, 70));                            // datatype int16
        Assert.Equal(16, I16(b, 72));                           // bitpix
        Assert.Equal(new float[] { 1, 2, 3, 4 }, Enumerable.Range(0, 4).Select(d => F32(b, 76 + (4 * d))));
        Assert.Equal(352f, F32(b, 108));                        // vox_offset
        Assert.Equal(1f, F32(b, 112));                          // scl_slope
        Assert.Equal(0f, F32(b, 116));                          // scl_inter
        Assert.Equal(2, b[123]);                                // xyzt_units: mm
        Assert.Equal(1, I16(b, 252));                           // qform_code
        Assert.Equal(1, I16(b, 254));                           // sform_code
        // LPS identity is RAS diag(−1, −1, 1): a 180° turn about z, quaternion (b, c, d) = (0, 0, 1).
        Assert.Equal(new float[] { 0, 0, 1, -10, -20, 30 }, Enumerable.Range(0, 6).Select(e => F32(b, 256 + (4 * e))));
        Assert.Equal(
            new float[] { -2, 0, 0, -10, 0, -3, 0, -20, 0, 0, 4, 30 },
            Enumerable.Range(0, 12).Select(e => F32(b, 280 + (4 * e))));
        Assert.Equal(-2, I16(b, 352 + 2));
        Assert.Equal(300, I16(b, 352 + (2 * (2 + 3 + 6))));
    }

    [Fact]
    public void Writing_into_a_missing_directory_throws_and_creates_nothing()
    {
        var missing = Path.Combine(_folder, "missing");
        var volume = new Volume(VolumeGeometry.Identity(new GridSize(2, 2, 2)), VoxelType.UInt8);
        Assert.Throws<InputFileNotFoundException>(() => _format.Write(volume, Path.Combine(missing, "out.nii.gz"), Token));
        Assert.False(Directory.Exists(missing));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_folder));
    }

    [Fact]
    public void Axes_longer_than_nifti1_can_store_are_refused_before_writing()
    {
        var volume = new Volume(VolumeGeometry.Identity(new GridSize(40000, 1, 1)), VoxelType.UInt8);
        var error = Assert.Throws<VolumeFormatException>(() => _format.Write(volume, Path.Combine(_folder, "long.nii"), Token));
        Assert.Contains("32767", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_folder));
    }

    [Fact]
    public void Cancelled_write_leaves_no_file_and_cancelled_read_stops()
    {
        var volume = new Volume(VolumeGeometry.Identity(new GridSize(2, 2, 2)), VoxelType.UInt8);
        var path = Path.Combine(_folder, "cancelled.nii");
        Assert.ThrowsAny<OperationCanceledException>(() => _format.Write(volume, path, new CancellationToken(canceled: true)));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_folder));
        Assert.ThrowsAny<OperationCanceledException>(() => _format.Read(VolumeFixtures.File("qform_only.nii"), VolumeLimits.Default, new CancellationToken(canceled: true)));
    }

    [Fact]
    public void Format_names_itself_and_its_endings()
    {
        Assert.Equal("NIfTI", _format.Name);
        Assert.Equal([".nii.gz", ".nii"], _format.Extensions);
    }

    private Volume ReadBuilt(NiftiTestFiles file)
    {
        var path = Path.Combine(_folder, $"built-{Guid.NewGuid():N}.nii");
        File.WriteAllBytes(path, file.Build(NiftiTestFiles.Bytes(NiftiTestFiles.DefaultVoxels()), 2));
        return _format.Read(path, VolumeLimits.Default, Token);
    }

    private static Direction3 Rotation(double aboutZ, double aboutX)
    {
        double c = Math.Cos(aboutZ), s = Math.Sin(aboutZ), ct = Math.Cos(aboutX), st = Math.Sin(aboutX);
        return new Direction3(new Vector3(c, s, 0), new Vector3(-s * ct, c * ct, st), new Vector3(s * st, -c * st, ct));
    }

    private static void AssertClose(Vector3 expected, Vector3 actual)
        => Assert.True((expected - actual).Length < 1e-5, $"expected {expected}, got {actual}");

    private static bool IsGzip(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return bytes[0] == 0x1f && bytes[1] == 0x8b;
    }

    private static int I32(byte[] b, int at) => BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(at));

    private static short I16(byte[] b, int at) => BinaryPrimitives.ReadInt16LittleEndian(b.AsSpan(at));

    private static float F32(byte[] b, int at) => BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(at));
}
