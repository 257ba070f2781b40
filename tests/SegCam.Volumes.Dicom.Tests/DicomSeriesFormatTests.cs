using SegCam.Common.Errors;
using SegCam.Volumes.Formats;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Dicom.Tests;

/// <summary>Series that read: pydicom's files and the synthetic series, compared with what pydicom says.</summary>
public sealed class DicomSeriesFormatTests
{
    private static readonly DicomSeriesFormat Format = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Volume Read(string path, string? series = null) => Format.Read(path, series, VolumeLimits.Default, Ct);

    [Fact]
    public void Ct_small_read_from_its_folder_matches_pydicom_with_slice_thickness_as_k_spacing()
    {
        DicomFixtures.RequireGdcm();
        var source = DicomFixtures.PydicomFile("CT_small.dcm");
        using var folder = new TempFolder();
        folder.Copy(source);

        var volume = Read(folder.Path);

        DicomFixtures.AssertMatches(volume, "ct_small");
        Assert.Equal(5.0, volume.Geometry.Spacing.Z); // SliceThickness; a lone slice has no position step
        Assert.Equal(VoxelType.Int16, volume.Type);
        Assert.Equal(175 - 1024, volume[0, 0, 0]);
    }

    [Fact]
    public void Ct_small_read_by_file_name_matches_pydicom()
    {
        DicomFixtures.RequireGdcm();
        using var folder = new TempFolder();
        var copy = folder.Copy(DicomFixtures.PydicomFile("CT_small.dcm"));

        DicomFixtures.AssertMatches(Read(copy), "ct_small");
    }

    [Theory]
    [InlineData("MR_small.dcm")]
    [InlineData("MR_small_RLE.dcm")]
    [InlineData("MR_small_jp2klossless.dcm")]
    [InlineData("MR_small_jpeg_ls_lossless.dcm")]
    [InlineData("MR_small_bigendian.dcm")]
    [InlineData("MR_small_implicit.dcm")]
    public void Mr_small_in_every_transfer_syntax_decodes_to_pydicoms_values(string name)
    {
        DicomFixtures.RequireGdcm();
        using var folder = new TempFolder();
        folder.Copy(DicomFixtures.PydicomFile(name));

        DicomFixtures.AssertMatches(Read(folder.Path), "mr_small");
    }

    [Theory]
    [InlineData("rtdose_expb_1frame.dcm")]
    [InlineData("rtdose_rle_1frame.dcm")]
    public void Thirty_two_bit_values_agree_across_transfer_syntaxes(string name)
    {
        // pydicom ships one 32-bit unsigned RT dose frame as implicit little endian, explicit big endian and RLE.
        // (DoseGridScaling is not a modality rescale and is not applied.) GDCM alone would read the big-endian
        // file with the 16-bit halves of each value swapped. Also: GDCM's ImageReader aborts the process on these
        // files (an assertion on the missing NumberOfFrames of an RT dose), which the reader must not reach.
        DicomFixtures.RequireGdcm();
        using var reference = new TempFolder();
        reference.Copy(DicomFixtures.PydicomFile("rtdose_1frame.dcm"));
        using var other = new TempFolder();
        other.Copy(DicomFixtures.PydicomFile(name));

        var expected = Read(reference.Path);
        var got = Read(other.Path);

        Assert.Equal(VoxelType.Int32, got.Type);
        Assert.Equal(795000, expected.Slice<int>(0).ToArray().Min()); // pydicom: 795000 … 1254000
        Assert.Equal(1254000, expected.Slice<int>(0).ToArray().Max());
        Assert.True(expected.ContentEquals(got), $"{name} differs from rtdose_1frame.dcm");
    }

    [Fact]
    public void Oblique_series_is_sorted_by_position_not_by_file_name_or_instance_number()
    {
        DicomFixtures.RequireGdcm();
        var byPosition = DicomFixtures.Files("series_oblique");
        var byName = byPosition.Order(StringComparer.Ordinal).ToList();
        Assert.NotEqual(byName, byPosition); // the fixture would not test sorting otherwise

        var volume = Read(DicomFixtures.Path("series_oblique"));

        DicomFixtures.AssertMatches(volume, "series_oblique");
    }

    [Fact]
    public void Oblique_series_geometry_comes_from_positions_and_orientation()
    {
        DicomFixtures.RequireGdcm();
        var g = Read(DicomFixtures.Path("series_oblique")).Geometry;

        Assert.Equal(new GridSize(16, 12, 5), g.Size);
        Assert.Equal(0.6, g.Spacing.X, 9);   // PixelSpacing[1]: between columns, along a row
        Assert.Equal(0.8, g.Spacing.Y, 9);   // PixelSpacing[0]: between rows
        Assert.Equal(2.5, g.Spacing.Z, 6);   // position step; SliceThickness is 5
        Assert.Equal(new Vector3(-20.5, 31.25, -75.7), g.Origin);
        var normal = Vector3.Cross(g.Direction.I, g.Direction.J);
        Assert.True((normal - g.Direction.K).Length < 1e-12, $"k direction {g.Direction.K} is not row × column {normal}");
        Assert.True(g.Direction.Determinant > 0.999999);
    }

    [Fact]
    public void Oblique_series_applies_each_slices_own_intercept_as_float32()
    {
        DicomFixtures.RequireGdcm();
        var volume = Read(DicomFixtures.Path("series_oblique"));

        // Slices are CT_small's crop + 37·k; slice 3 has intercept -1000, the others -1024.
        Assert.Equal(VoxelType.Float32, volume.Type);
        var first = volume[0, 0, 0] + 1024;
        Assert.Equal(first + 37 + 37 - 1024, volume[0, 0, 2]);
        Assert.Equal(first + (3 * 37) - 1000, volume[0, 0, 3]);
    }

    [Fact]
    public void A_file_of_the_series_reads_only_its_series()
    {
        DicomFixtures.RequireGdcm();
        using var folder = new TempFolder();
        folder.CopyAll(DicomFixtures.Path("series_oblique"));
        folder.Copy(DicomFixtures.Path("extras/other_series.dcm"));

        DicomFixtures.AssertMatches(Read(Path.Combine(folder.Path, "d.dcm")), "series_oblique");

        var other = Read(Path.Combine(folder.Path, "other_series.dcm"));
        Assert.Equal(1, other.Geometry.Size.K);
    }

    [Fact]
    public void A_series_uid_picks_one_series_of_a_folder_holding_two()
    {
        DicomFixtures.RequireGdcm();
        using var folder = new TempFolder();
        folder.CopyAll(DicomFixtures.Path("series_oblique"));
        folder.Copy(DicomFixtures.Path("extras/other_series.dcm"));

        DicomFixtures.AssertMatches(Read(folder.Path, DicomFixtures.SeriesUid("series_oblique")), "series_oblique");

        var ex = Assert.Throws<VolumeFormatException>(() => Read(folder.Path, "1.2.3.4"));
        Assert.Contains("1.2.3.4 not found", ex.Message);
        Assert.Contains(DicomFixtures.SeriesUid("series_oblique"), ex.Message);
    }

    [Fact]
    public void Twelve_bit_signed_values_ignore_the_unused_high_bits()
    {
        DicomFixtures.RequireGdcm();
        var volume = Read(DicomFixtures.Path("series_bits12"));

        DicomFixtures.AssertMatches(volume, "series_bits12");
        var values = Enumerable.Range(0, volume.Geometry.Size.K).SelectMany(k => volume.Slice<float>(k).ToArray()).ToList();
        Assert.True(values.Min() < 0, "sign extension of 12-bit values");
        Assert.True(values.Max() <= 2047 * 0.5, "junk above bit 11 must be dropped");
    }

    [Fact]
    public void Rle_compressed_unsigned_series_needs_int32_after_the_intercept()
    {
        DicomFixtures.RequireGdcm();
        var volume = Read(DicomFixtures.Path("series_uint16_rle"));

        DicomFixtures.AssertMatches(volume, "series_uint16_rle");
        Assert.Equal(VoxelType.Int32, volume.Type);
    }

    [Fact]
    public void Files_that_are_not_dicom_are_ignored()
    {
        DicomFixtures.RequireGdcm();
        using var folder = new TempFolder();
        folder.CopyAll(DicomFixtures.Path("series_oblique"));
        File.WriteAllText(Path.Combine(folder.Path, "notes.txt"), "not DICOM\n");
        File.WriteAllBytes(Path.Combine(folder.Path, "random.bin"), Enumerable.Range(0, 4096).Select(i => (byte)(i * 37)).ToArray());
        Directory.CreateDirectory(Path.Combine(folder.Path, "sub"));

        DicomFixtures.AssertMatches(Read(folder.Path), "series_oblique");
    }

    [Fact]
    public void Limits_are_checked_before_pixel_data_is_decoded()
    {
        DicomFixtures.RequireGdcm();
        var limits = new VolumeLimits { MaxVoxels = 16 * 12 * 4 };

        var ex = Assert.Throws<ResourceLimitException>(() => Format.Read(DicomFixtures.Path("series_oblique"), limits, Ct));
        Assert.Contains("16×12×5", ex.Message);
    }

    [Fact]
    public void A_cancelled_read_stops()
    {
        DicomFixtures.RequireGdcm();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => Format.Read(DicomFixtures.Path("series_oblique"), VolumeLimits.Default, cancelled.Token));
    }

    [Fact]
    public void A_missing_path_is_reported_as_not_found()
    {
        DicomFixtures.RequireGdcm();
        Assert.Throws<InputFileNotFoundException>(() => Read(Path.Combine(Path.GetTempPath(), "segcam-no-such-series-" + Guid.NewGuid().ToString("N"))));
    }

    [Fact]
    public void Format_is_named_dicom_owns_dcm_and_does_not_write()
    {
        Assert.Equal("DICOM", Format.Name);
        Assert.Equal([".dcm"], Format.Extensions);
        var volume = new Volume(VolumeGeometry.Identity(new GridSize(2, 2, 2)), VoxelType.Int16);
        var ex = Assert.Throws<VolumeFormatException>(() => Format.Write(volume, "out.dcm", Ct));
        Assert.Contains("writing DICOM is not supported", ex.Message);
        Assert.False(File.Exists("out.dcm"));
    }

    [Fact]
    public void Without_gdcm_the_reader_says_how_to_install_it()
    {
        const string Expected = "reading DICOM needs GDCM's C# binding: apt-get install libgdcm-cil";
        var ex = Assert.Throws<VolumeFormatException>(() => new DicomSeriesFormat(withoutGdcm: true).Read(DicomFixtures.Path("series_oblique"), VolumeLimits.Default, Ct));
        Assert.Equal(Expected, ex.Message);

        if (!DicomSeriesFormat.IsAvailable)
        {
            // This build or machine really lacks GDCM: the public reader says the same.
            var real = Assert.Throws<VolumeFormatException>(() => Format.Read(DicomFixtures.Path("series_oblique"), VolumeLimits.Default, Ct));
            Assert.StartsWith(Expected, real.Message);
        }
    }
}
