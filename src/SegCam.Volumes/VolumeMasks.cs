namespace SegCam.Volumes;

/// <summary>Binary masks (UInt8, 1 = in) derived from label maps, on the same grid.</summary>
public static class VolumeMasks
{
    /// <summary>1 where <paramref name="labels"/> equals <paramref name="value"/>.</summary>
    public static Volume Equal(Volume labels, double value) => Where(labels, v => v == value);

    /// <summary>1 where <paramref name="labels"/> is nonzero (how the metrics read a mask).</summary>
    public static Volume NonZero(Volume labels) => Where(labels, v => v != 0);

    private static Volume Where(Volume labels, Func<double, bool> inside)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var mask = new Volume(labels.Geometry, VoxelType.UInt8);
        var row = new double[labels.Geometry.Size.SliceVoxels];
        for (var k = 0; k < labels.Geometry.Size.K; k++)
        {
            labels.CopySlice(k, row);
            var target = mask.Slice<byte>(k);
            for (var v = 0; v < row.Length; v++)
            {
                target[v] = inside(row[v]) ? (byte)1 : (byte)0;
            }
        }

        return mask;
    }
}
