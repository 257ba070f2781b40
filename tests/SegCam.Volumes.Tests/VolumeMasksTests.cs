using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Tests;

public sealed class VolumeMasksTests
{
    [Fact]
    public void Masks_select_a_label_or_every_nonzero_voxel_on_the_same_grid()
    {
        var labels = new Volume(VolumeGeometry.Identity(new GridSize(4, 1, 2)), VoxelType.Int16);
        short[] values = [0, 2, -1, 2];
        values.CopyTo(labels.Slice<short>(1));
        var two = VolumeMasks.Equal(labels, 2);
        var any = VolumeMasks.NonZero(labels);
        Assert.Equal(labels.Geometry, two.Geometry);
        Assert.Equal([0, 1, 0, 1], two.Slice<byte>(1).ToArray());
        Assert.Equal([0, 1, 1, 1], any.Slice<byte>(1).ToArray());
        Assert.All(any.Slice<byte>(0).ToArray(), b => Assert.Equal(0, b));
    }
}
