using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes;

/// <summary>Caps checked against a file's header before anything is allocated, so a hostile header costs nothing.</summary>
public sealed record VolumeLimits
{
    /// <summary>Defaults: 2^31 voxels (a 2048×2048×512 CT) and 8 GiB of voxel data.</summary>
    public static VolumeLimits Default { get; } = new();

    /// <summary>Most voxels an image may have.</summary>
    public long MaxVoxels { get; init; } = 1L << 31;

    /// <summary>Most bytes of voxel data an image may have.</summary>
    public long MaxBytes { get; init; } = 8L << 30;

    /// <summary>Longest axis accepted.</summary>
    public int MaxAxis { get; init; } = 1 << 16;

    /// <summary>Throws <see cref="ResourceLimitException"/> when an image of <paramref name="size"/> and <paramref name="type"/> exceeds a cap.</summary>
    public void Check(GridSize size, VoxelType type, string what)
    {
        for (var a = 0; a < 3; a++)
        {
            if (size[a] > MaxAxis)
            {
                throw new ResourceLimitException($"{what}: axis {a} has {size[a]} voxels; at most {MaxAxis} are allowed");
            }
        }

        var voxels = size.Voxels;
        var bytes = checked(voxels * type.Size());
        if (voxels > MaxVoxels || bytes > MaxBytes)
        {
            throw new ResourceLimitException($"{what}: {size} {type} voxels ({bytes:N0} bytes) exceed the limit of {MaxVoxels:N0} voxels / {MaxBytes:N0} bytes");
        }
    }
}
