namespace SegCam.Volumes;

/// <summary>Element type of a voxel buffer.</summary>
public enum VoxelType
{
    UInt8,
    Int8,
    UInt16,
    Int16,
    UInt32,
    Int32,
    Float32,
    Float64,
}

/// <summary>Sizes and names of <see cref="VoxelType"/>.</summary>
public static class VoxelTypes
{
    /// <summary>Bytes per voxel.</summary>
    public static int Size(this VoxelType type) => type switch
    {
        VoxelType.UInt8 or VoxelType.Int8 => 1,
        VoxelType.UInt16 or VoxelType.Int16 => 2,
        VoxelType.UInt32 or VoxelType.Int32 or VoxelType.Float32 => 4,
        VoxelType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>True for float32 and float64.</summary>
    public static bool IsFloatingPoint(this VoxelType type) => type is VoxelType.Float32 or VoxelType.Float64;

    /// <summary>The voxel type whose CLR element type is <typeparamref name="T"/>.</summary>
    public static VoxelType Of<T>()
        where T : unmanaged
        => typeof(T) == typeof(byte) ? VoxelType.UInt8
            : typeof(T) == typeof(sbyte) ? VoxelType.Int8
            : typeof(T) == typeof(ushort) ? VoxelType.UInt16
            : typeof(T) == typeof(short) ? VoxelType.Int16
            : typeof(T) == typeof(uint) ? VoxelType.UInt32
            : typeof(T) == typeof(int) ? VoxelType.Int32
            : typeof(T) == typeof(float) ? VoxelType.Float32
            : typeof(T) == typeof(double) ? VoxelType.Float64
            : throw new ArgumentException($"{typeof(T).Name} is not a voxel type");
}
