using SegCam.Pipelines.Slicing;
using SegCam.Volumes.Geometry;

namespace SegCam.Pipelines.Tests;

public sealed class PlaneResamplerTests
{
    [Fact]
    public void Bilinear_upsampling_uses_half_pixel_centres_and_clamps_at_the_edges()
    {
        // 1×2 → 1×4: targets at source x = −0.25, 0.25, 0.75, 1.25 → clamped 0, 0.25, 0.75, 1.
        float[] source = [0, 4];
        var target = new float[4];
        PlaneResampler.Bilinear(source, 1, 2, target, 1, 4);
        Assert.Equal([0f, 1f, 3f, 4f], target);
    }

    [Fact]
    public void Bilinear_halving_averages_pairs()
    {
        float[] source = [1, 3, 5, 7];
        var target = new float[2];
        PlaneResampler.Bilinear(source, 1, 4, target, 1, 2);
        Assert.Equal([2f, 6f], target);
    }

    [Fact]
    public void Cover_keeps_a_single_pixel_when_down_sampling()
    {
        var source = new bool[16];
        source[5] = true; // row 1, column 1
        var target = new bool[4];
        Assert.True(PlaneResampler.Cover(source, 4, 4, target, 2, 2));
        Assert.Equal([true, false, false, false], target);
    }

    [Fact]
    public void Slice_axis_follows_the_direction_not_the_index_order()
    {
        // k runs left-right (sagittal acquisition): axial slices are then cut along j or i, whichever points superior.
        var d = new Direction3(new Vector3(0, 1, 0), new Vector3(0, 0, 1), new Vector3(1, 0, 0));
        var g = new VolumeGeometry(new GridSize(4, 5, 6), new Vector3(1, 1, 1), default, d);
        Assert.Equal(1, SliceAxes.IndexAxis(g, AnatomicalAxis.Axial));
        Assert.Equal(2, SliceAxes.IndexAxis(g, AnatomicalAxis.Sagittal));
        Assert.Equal(0, SliceAxes.IndexAxis(g, AnatomicalAxis.Coronal));
    }
}
