using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Tests.Geometry;

public sealed class VolumeGeometryTests
{
    private static readonly Direction3 Oblique = Rotation(0.3, -0.2);

    private static Direction3 Rotation(double about, double tilt)
    {
        var c = Math.Cos(about);
        var s = Math.Sin(about);
        var ct = Math.Cos(tilt);
        var st = Math.Sin(tilt);
        // Rz(about) · Rx(tilt), columns.
        return new Direction3(new Vector3(c, s, 0), new Vector3(-s * ct, c * ct, st), new Vector3(s * st, -c * st, ct));
    }

    [Fact]
    public void Physical_to_index_inverts_index_to_physical()
    {
        var g = new VolumeGeometry(new GridSize(10, 8, 6), new Vector3(0.7, 1.1, 2.5), new Vector3(-20, 5, 31), Oblique);
        var p = g.IndexToPhysical(3.25, 7, 1.5);
        var back = g.PhysicalToIndex(p);
        Assert.Equal(3.25, back.X, 10);
        Assert.Equal(7, back.Y, 10);
        Assert.Equal(1.5, back.Z, 10);
    }

    [Fact]
    public void Index_to_physical_follows_origin_spacing_and_direction()
    {
        var g = new VolumeGeometry(new GridSize(4, 4, 4), new Vector3(2, 3, 4), new Vector3(1, 2, 3), Direction3.Identity);
        Assert.Equal(new Vector3(1 + 2, 2 + 6, 3 + 12), g.IndexToPhysical(1, 2, 3));
    }

    [Fact]
    public void Lps_ras_flip_is_its_own_inverse_and_flips_x_and_y()
    {
        var v = new Vector3(1, -2, 3);
        Assert.Equal(new Vector3(-1, 2, 3), v.FlipLpsRas());
        Assert.Equal(v, v.FlipLpsRas().FlipLpsRas());
        Assert.Equal(Oblique, Oblique.FlipLpsRas().FlipLpsRas());
    }

    [Theory]
    [InlineData(0, 1, 1)]
    [InlineData(1, -1, 1)]
    public void Invalid_size_is_rejected(int i, int j, int k)
        => Assert.Throws<VolumeFormatException>(() => new VolumeGeometry(new GridSize(i, j, k), new Vector3(1, 1, 1), default, Direction3.Identity));

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Invalid_spacing_is_rejected(double spacing)
    {
        var ex = Assert.Throws<VolumeFormatException>(() => new VolumeGeometry(new GridSize(2, 2, 2), new Vector3(1, spacing, 1), default, Direction3.Identity));
        Assert.Contains("spacing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sheared_direction_is_rejected()
    {
        var sheared = new Direction3(new Vector3(1, 0, 0), new Vector3(0.3, 1, 0).Normalized(), new Vector3(0, 0, 1));
        Assert.Throws<VolumeFormatException>(() => new VolumeGeometry(new GridSize(2, 2, 2), new Vector3(1, 1, 1), default, sheared));
    }

    [Fact]
    public void Same_grid_tolerates_rounding_and_catches_real_differences()
    {
        var a = new VolumeGeometry(new GridSize(10, 8, 6), new Vector3(0.7, 1.1, 2.5), new Vector3(-20, 5, 31), Oblique);
        var rounded = new VolumeGeometry(a.Size, new Vector3(0.70000001, 1.1, 2.5), new Vector3(-20.0000001, 5, 31), Oblique);
        var shifted = new VolumeGeometry(a.Size, a.Spacing, new Vector3(-19, 5, 31), Oblique);
        Assert.True(a.SameGrid(rounded));
        Assert.False(a.SameGrid(shifted));
        Assert.False(a.SameGrid(a.WithSize(new GridSize(10, 8, 5))));
        Assert.Throws<GeometryMismatchException>(() => a.RequireSameGrid(shifted, "label map"));
    }

    [Fact]
    public void Volume_rejects_sizes_over_the_limits_before_allocating()
    {
        var g = VolumeGeometry.Identity(new GridSize(60000, 60000, 60000));
        var ex = Assert.Throws<ResourceLimitException>(() => new Volume(g, VoxelType.Float32));
        Assert.Contains("exceed", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Volume_indexer_and_conversion_round_values_and_saturate()
    {
        var v = new Volume(VolumeGeometry.Identity(new GridSize(3, 2, 2)), VoxelType.Float32);
        v[2, 1, 1] = 300.6;
        v[0, 0, 0] = -4.5;
        var bytes = v.ConvertTo(VoxelType.UInt8);
        Assert.Equal(255, bytes[2, 1, 1]);
        Assert.Equal(0, bytes[0, 0, 0]);
        var shorts = v.ConvertTo(VoxelType.Int16);
        Assert.Equal(301, shorts[2, 1, 1]);
        Assert.Equal(-5, shorts[0, 0, 0]);
        Assert.Throws<InvalidOperationException>(() => v.Slice<short>(0));
        Assert.Equal(6, v.Slice<float>(1).Length);
    }
}
