using SegCam.Common.Errors;
using SegCam.Volumes;
using SegCam.Volumes.Geometry;
using SkiaSharp;

namespace SegCam.Reports.Tests;

public sealed class MontageRendererTests
{
    private static (Volume Ct, Volume Mask, Volume Heat) Scene()
    {
        var g = VolumeGeometry.Identity(new GridSize(20, 10, 3));
        var ct = new Volume(g, VoxelType.Int16);
        var mask = new Volume(g, VoxelType.UInt8);
        var heat = new Volume(g, VoxelType.Float32);
        for (var j = 3; j < 7; j++)
        {
            for (var i = 5; i < 12; i++)
            {
                mask[i, j, 1] = 1;
                heat[i, j, 1] = 2f;
                ct[i, j, 1] = 240; // top of the 40±200 window: white
            }
        }

        return (ct, mask, heat);
    }

    [Fact]
    public void Montage_is_a_png_with_one_panel_per_slice_and_row()
    {
        var (ct, mask, heat) = Scene();
        var png = MontageRenderer.RenderPng(ct, mask, [new MontageRow("hires", heat), new MontageRow("gradcam", heat)], [0, 1], scale: 2);
        using var bitmap = SKBitmap.Decode(png);
        Assert.Equal(18 + (2 * (40 + 18)), bitmap.Width);
        Assert.Equal(18 + (2 * (20 + 36)), bitmap.Height);

        // Panel (row 0, slice 1) starts at x = 18 + 58, y = 18 + 18; voxel (8, 5) sits inside the mask, not on its edge,
        // and carries the heatmap's maximum: jet(1) = (0.5, 0, 0) at opacity 0.75 over white CT gives
        // (0.25 + 0.375, 0.25, 0.25) → (159, 63, 63); slice 0 has no heatmap: grey.
        var inside = bitmap.GetPixel(18 + 58 + (8 * 2), 36 + (5 * 2));
        Assert.Equal(new SKColor(159, 63, 63), inside);
        var plain = bitmap.GetPixel(18 + (8 * 2), 36 + (5 * 2));
        Assert.Equal(plain.Red, plain.Green);
        Assert.Equal(plain.Green, plain.Blue);
        var edge = bitmap.GetPixel(18 + 58 + (5 * 2), 36 + (3 * 2));
        Assert.Equal(new SKColor(255, 255, 255), edge);
    }

    [Fact]
    public void Heatmap_on_another_grid_or_bad_slices_are_rejected()
    {
        var (ct, mask, _) = Scene();
        var other = new Volume(VolumeGeometry.Identity(new GridSize(20, 10, 4)), VoxelType.Float32);
        Assert.Throws<GeometryMismatchException>(() => MontageRenderer.RenderPng(ct, mask, [new MontageRow("x", other)], [0]));
        Assert.Throws<InvalidRequestException>(() => MontageRenderer.RenderPng(ct, mask, [], [5]));
    }
}
