using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Dicom.Tests;

/// <summary>The series rules on headers alone (no GDCM needed), and the stored-value and rescale arithmetic.</summary>
public sealed class DicomSeriesPlanTests
{
    private static readonly double[] Axial = [1, 0, 0, 0, 1, 0];

    private static DicomSliceHeader Slice(string name, double z, double[]? orientation = null, Vector3? offset = null, double? thickness = null) => new()
    {
        Path = "/data/" + name,
        SeriesInstanceUid = "1.2.3",
        FrameOfReferenceUid = "1.2.3.4",
        Rows = 4,
        Columns = 3,
        PhotometricInterpretation = "MONOCHROME2",
        BitsAllocated = 16,
        Position = new Vector3(10, 20, z) + (offset ?? default),
        Orientation = orientation ?? Axial,
        PixelSpacing = [0.5, 0.25],
        SliceThickness = thickness,
    };

    private static DicomSeriesPlan Build(params DicomSliceHeader[] slices) => DicomSeriesPlan.Build(slices, null, null, "folder");

    [Fact]
    public void Slices_sort_along_the_normal_and_the_step_is_the_median()
    {
        var plan = Build(Slice("a", 6), Slice("b", 0), Slice("c", 3), Slice("d", 9.01));

        Assert.Equal(["b", "c", "a", "d"], plan.Slices.Select(s => s.Name));
        Assert.Equal(new Vector3(0.25, 0.5, 3), plan.Geometry.Spacing);
        Assert.Equal(new Vector3(10, 20, 0), plan.Geometry.Origin);
        Assert.Equal(new GridSize(3, 4, 4), plan.Geometry.Size);
    }

    [Fact]
    public void A_normal_pointing_down_sorts_the_other_way()
    {
        // Row +x, column −y: n = x × (−y) = −z, so the highest z comes first.
        double[] flipped = [1, 0, 0, 0, -1, 0];
        var plan = Build(Slice("low", 0, flipped), Slice("high", 2, flipped), Slice("mid", 1, flipped));

        Assert.Equal(["high", "mid", "low"], plan.Slices.Select(s => s.Name));
        Assert.Equal(new Vector3(0, 0, -1), plan.Geometry.Direction.K);
        Assert.Equal(1, plan.Geometry.Spacing.Z, 12);
    }

    [Fact]
    public void A_single_slice_takes_slice_thickness_or_one_millimetre()
    {
        Assert.Equal(2.5, Build(Slice("a", 0, thickness: 2.5)).Geometry.Spacing.Z);
        Assert.Equal(1.0, Build(Slice("a", 0)).Geometry.Spacing.Z);
    }

    [Fact]
    public void Rounded_orientations_are_made_orthonormal()
    {
        // Six decimals, as scanners write them: not exactly unit or perpendicular.
        double[] rounded = [0.866025, 0.5, 0, -0.5, 0.866025, 0.000001];
        var plan = Build(Slice("a", 0, rounded), Slice("b", 1, rounded));

        Assert.True(plan.Geometry.Direction.OrthonormalityError() < 1e-12);
    }

    [Fact]
    public void A_gantry_tilt_is_rejected()
    {
        var ex = Assert.Throws<VolumeFormatException>(() => Build(Slice("a", 0), Slice("b", 2, offset: new Vector3(0, 0.5, 0)), Slice("c", 4, offset: new Vector3(0, 1, 0))));

        Assert.Contains("off the stack axis", ex.Message);
        Assert.Contains("'b'", ex.Message);
    }

    [Fact]
    public void Uneven_spacing_names_the_worst_gap()
    {
        var ex = Assert.Throws<VolumeFormatException>(() => Build(Slice("a", 0), Slice("b", 1), Slice("c", 2), Slice("d", 3.2), Slice("e", 4.2)));

        Assert.Contains("'c' (2 mm along the normal) and 'd' (3.2 mm) are 1.2 mm apart", ex.Message);
    }

    [Fact]
    public void Spacing_within_one_percent_is_accepted()
    {
        var plan = Build(Slice("a", 0), Slice("b", 1.005), Slice("c", 2));

        Assert.Equal(3, plan.Geometry.Size.K);
    }

    [Fact]
    public void A_missing_position_is_reported()
    {
        var ex = Assert.Throws<VolumeFormatException>(() => Build(Slice("a", 0) with { Position = null }));

        Assert.Contains("'a' has no ImagePositionPatient", ex.Message);
    }

    [Fact]
    public void Different_sizes_and_pixel_spacings_are_rejected()
    {
        Assert.Contains("differ in size", Assert.Throws<VolumeFormatException>(() => Build(Slice("a", 0), Slice("b", 1) with { Rows = 5 })).Message);
        Assert.Contains("differ in PixelSpacing", Assert.Throws<VolumeFormatException>(() => Build(Slice("a", 0), Slice("b", 1) with { PixelSpacing = [0.5, 0.3] })).Message);
    }

    [Fact]
    public void No_headers_is_an_error_naming_the_place()
    {
        var ex = Assert.Throws<VolumeFormatException>(() => DicomSeriesPlan.Build([], null, null, "DICOM folder '/x'"));

        Assert.Contains("DICOM folder '/x': no DICOM image files found", ex.Message);
    }

    [Fact]
    public void Twelve_bit_values_are_masked_and_sign_extended()
    {
        // Words: 0x0FFF (−1), 0xF800 (junk above bit 11, value 0x800 = −2048), 0x17FF (junk bit 12, value 2047).
        byte[] data = [0xFF, 0x0F, 0x00, 0xF8, 0xFF, 0x17];
        var pixels = new StoredPixels(data, 3, 16, 12, 11, signed: true, "x");

        Assert.Equal([-1L, -2048, 2047], Enumerable.Range(0, 3).Select(v => pixels[v]));
        Assert.Equal(-2048, pixels.Min);
        Assert.Equal(2047, pixels.Max);
    }

    [Fact]
    public void A_high_bit_above_bits_stored_shifts_the_value_down()
    {
        // BitsStored 12 at HighBit 15: the value is the top 12 bits.
        byte[] data = [0x30, 0x12];
        var pixels = new StoredPixels(data, 1, 16, 12, 15, signed: false, "x");

        Assert.Equal(0x123, pixels[0]);
    }

    [Fact]
    public void Impossible_bit_layouts_are_rejected()
    {
        Assert.Throws<VolumeFormatException>(() => new StoredPixels(new byte[4], 2, 16, 17, 16, signed: false, "x"));
        Assert.Throws<VolumeFormatException>(() => new StoredPixels(new byte[4], 2, 12, 12, 11, signed: false, "x"));
        Assert.Throws<VolumeFormatException>(() => new StoredPixels(new byte[2], 2, 16, 16, 15, signed: false, "x"));
    }

    [Theory]
    [InlineData(1.0, -1024.0, 0, 4095, VoxelType.Int16)]
    [InlineData(1.0, -1024.0, -32768, 32767, VoxelType.Int32)]
    [InlineData(1.0, 0.0, 0, 65535, VoxelType.Int32)]
    [InlineData(-1.0, 0.0, 0, 32768, VoxelType.Int16)]
    [InlineData(0.5, 0.0, 0, 10, VoxelType.Float32)]
    [InlineData(1.0, 0.25, 0, 10, VoxelType.Float32)]
    [InlineData(1.0, 0.0, 0, 4294967295, VoxelType.Float32)]
    public void The_voxel_type_holds_the_rescaled_range(double slope, double intercept, long min, long max, VoxelType expected)
        => Assert.Equal(expected, DicomRescale.ChooseType([(slope, intercept, min, max)]));

    [Fact]
    public void A_rescale_that_varies_by_slice_gives_float32()
        => Assert.Equal(VoxelType.Float32, DicomRescale.ChooseType([(1.0, -1024.0, 0, 10), (1.0, -1000.0, 0, 10)]));
}
