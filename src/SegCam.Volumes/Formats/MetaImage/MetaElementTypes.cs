namespace SegCam.Volumes.Formats.MetaImage;

/// <summary>MetaImage ElementType names (MET_…) and the voxel types they hold.</summary>
internal static class MetaElementTypes
{
    private static readonly (string Name, VoxelType Type)[] Table =
    [
        ("MET_UCHAR", VoxelType.UInt8),
        ("MET_CHAR", VoxelType.Int8),
        ("MET_USHORT", VoxelType.UInt16),
        ("MET_SHORT", VoxelType.Int16),
        ("MET_UINT", VoxelType.UInt32),
        ("MET_INT", VoxelType.Int32),
        ("MET_FLOAT", VoxelType.Float32),
        ("MET_DOUBLE", VoxelType.Float64),
    ];

    /// <summary>The supported names, for error messages.</summary>
    public static string Allowed => string.Join(", ", Table.Select(t => t.Name));

    /// <summary>The voxel type named <paramref name="name"/> (exact, upper case as MetaIO writes it), or null.</summary>
    public static VoxelType? Parse(string name)
    {
        foreach (var (n, type) in Table)
        {
            if (string.Equals(n, name, StringComparison.OrdinalIgnoreCase))
            {
                return type;
            }
        }

        return null;
    }

    /// <summary>The MET_ name of <paramref name="type"/>.</summary>
    public static string NameOf(VoxelType type)
    {
        foreach (var (n, t) in Table)
        {
            if (t == type)
            {
                return n;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(type), type, "no MetaImage element type for this voxel type");
    }
}
