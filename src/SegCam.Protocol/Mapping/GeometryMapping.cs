using SegCam.Common.Errors;
using SegCam.Volumes;
using SegCam.Volumes.Geometry;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Protocol.Mapping;

/// <summary>Volume geometry and voxel types between the wire (LPS, i fastest) and <see cref="VolumeGeometry"/>.</summary>
public static class GeometryMapping
{
    /// <summary>Checks and converts <paramref name="g"/>; errors name <paramref name="field"/> and what is allowed.</summary>
    public static VolumeGeometry ToGeometry(Proto.VolumeGeometry? g, string field)
    {
        if (g is null)
        {
            throw new InvalidRequestException($"{field} is missing; a volume needs its size (3 values), and may give spacing, origin and direction");
        }

        if (g.Size.Count != 3 || g.Size.Any(s => s < 1))
        {
            throw new InvalidRequestException($"{field}.size is [{string.Join(", ", g.Size)}]; it must be 3 positive voxel counts [I, J, K]");
        }

        var spacing = Three(g.Spacing, 1, $"{field}.spacing");
        if (spacing.Any(s => !(s > 0)))
        {
            throw new InvalidRequestException($"{field}.spacing is [{string.Join(", ", spacing)}]; spacings must be positive millimetres");
        }

        var origin = Three(g.Origin, 0, $"{field}.origin");
        var direction = Direction3.Identity;
        if (g.Direction.Count != 0)
        {
            if (g.Direction.Count != 9 || g.Direction.Any(v => !double.IsFinite(v)))
            {
                throw new InvalidRequestException($"{field}.direction has {g.Direction.Count} values; it must be 9 finite values (3×3 row by row) or empty for identity");
            }

            var m = new double[3, 3];
            for (var r = 0; r < 3; r++)
            {
                for (var c = 0; c < 3; c++)
                {
                    m[r, c] = g.Direction[(r * 3) + c];
                }
            }

            direction = Direction3.FromRows(m);
        }

        try
        {
            return new VolumeGeometry(new GridSize(g.Size[0], g.Size[1], g.Size[2]), new Vector3(spacing[0], spacing[1], spacing[2]), new Vector3(origin[0], origin[1], origin[2]), direction);
        }
        catch (SegCamException ex)
        {
            throw new InvalidRequestException($"{field}: {ex.Message}", ex);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidRequestException($"{field}: {ex.Message}", ex);
        }
    }

    /// <summary>The wire form of <paramref name="geometry"/>.</summary>
    public static Proto.VolumeGeometry ToProto(VolumeGeometry geometry)
    {
        var p = new Proto.VolumeGeometry();
        p.Size.Add([geometry.Size.I, geometry.Size.J, geometry.Size.K]);
        p.Spacing.Add([geometry.Spacing.X, geometry.Spacing.Y, geometry.Spacing.Z]);
        p.Origin.Add([geometry.Origin.X, geometry.Origin.Y, geometry.Origin.Z]);
        for (var r = 0; r < 3; r++)
        {
            for (var c = 0; c < 3; c++)
            {
                p.Direction.Add(geometry.Direction[r, c]);
            }
        }

        return p;
    }

    /// <summary>The voxel type of the wire, or a clear error.</summary>
    public static VoxelType ToVoxelType(Proto.VoxelType type, string field) => type switch
    {
        Proto.VoxelType.Uint8 => VoxelType.UInt8,
        Proto.VoxelType.Int8 => VoxelType.Int8,
        Proto.VoxelType.Uint16 => VoxelType.UInt16,
        Proto.VoxelType.Int16 => VoxelType.Int16,
        Proto.VoxelType.Uint32 => VoxelType.UInt32,
        Proto.VoxelType.Int32 => VoxelType.Int32,
        Proto.VoxelType.Float32 => VoxelType.Float32,
        Proto.VoxelType.Float64 => VoxelType.Float64,
        _ => throw new InvalidRequestException($"{field} is {type}; allowed: UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, FLOAT64"),
    };

    /// <summary>The wire voxel type of <paramref name="type"/>.</summary>
    public static Proto.VoxelType ToProto(VoxelType type) => type switch
    {
        VoxelType.UInt8 => Proto.VoxelType.Uint8,
        VoxelType.Int8 => Proto.VoxelType.Int8,
        VoxelType.UInt16 => Proto.VoxelType.Uint16,
        VoxelType.Int16 => Proto.VoxelType.Int16,
        VoxelType.UInt32 => Proto.VoxelType.Uint32,
        VoxelType.Int32 => Proto.VoxelType.Int32,
        VoxelType.Float32 => Proto.VoxelType.Float32,
        VoxelType.Float64 => Proto.VoxelType.Float64,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "no wire voxel type"),
    };

    private static double[] Three(Google.Protobuf.Collections.RepeatedField<double> values, double fallback, string field)
    {
        if (values.Count == 0)
        {
            return [fallback, fallback, fallback];
        }

        if (values.Count != 3 || values.Any(v => !double.IsFinite(v)))
        {
            throw new InvalidRequestException($"{field} has {values.Count} values; it must be 3 finite values or empty");
        }

        return [.. values];
    }
}
