using SegCam.Common.Errors;

namespace SegCam.Volumes.Geometry;

/// <summary>
/// Where every voxel of an image lies in patient space, in DICOM/ITK LPS coordinates (x to the patient's left,
/// y posterior, z superior): point(i, j, k) = Origin + Σ_a index_a · Spacing_a · Direction column a.
/// Immutable and shared by an image, its label maps and its heatmaps. NIfTI (RAS) is converted on read and write.
/// </summary>
public sealed record VolumeGeometry
{
    /// <summary>Largest deviation from orthonormality accepted in a direction matrix.</summary>
    public const double DirectionTolerance = 1e-4;

    /// <summary>Creates a validated geometry; <paramref name="direction"/> holds the unit index-axis directions as columns.</summary>
    public VolumeGeometry(GridSize size, Vector3 spacing, Vector3 origin, Direction3 direction)
    {
        if (size.I < 1 || size.J < 1 || size.K < 1)
        {
            throw new VolumeFormatException($"image size {size} is invalid; every axis needs at least one voxel");
        }

        for (var a = 0; a < 3; a++)
        {
            if (!(spacing[a] > 0) || !double.IsFinite(spacing[a]))
            {
                throw new VolumeFormatException($"voxel spacing {spacing} is invalid; spacings must be finite and positive");
            }
        }

        if (!origin.IsFinite)
        {
            throw new VolumeFormatException($"image origin {origin} is not finite");
        }

        if (direction.OrthonormalityError() > DirectionTolerance)
        {
            throw new VolumeFormatException($"direction matrix {direction} is not orthonormal (sheared or scaled axes are not supported)");
        }

        Size = size;
        Spacing = spacing;
        Origin = origin;
        Direction = direction;
    }

    /// <summary>An axis-aligned geometry with unit spacing at the origin (arrays without geometry, e.g. .npy).</summary>
    public static VolumeGeometry Identity(GridSize size) => new(size, new Vector3(1, 1, 1), default, Direction3.Identity);

    /// <summary>Voxels along i, j, k.</summary>
    public GridSize Size { get; }

    /// <summary>Voxel size along i, j, k in millimetres.</summary>
    public Vector3 Spacing { get; }

    /// <summary>LPS position of voxel (0, 0, 0)'s centre.</summary>
    public Vector3 Origin { get; }

    /// <summary>Unit LPS directions of the i, j, k axes (columns).</summary>
    public Direction3 Direction { get; }

    /// <summary>LPS position of the centre of voxel (i, j, k) (fractional indices allowed).</summary>
    public Vector3 IndexToPhysical(double i, double j, double k)
        => Origin + (Direction.Column(0) * (i * Spacing.X)) + (Direction.Column(1) * (j * Spacing.Y)) + (Direction.Column(2) * (k * Spacing.Z));

    /// <summary>Continuous index of an LPS point (the inverse of <see cref="IndexToPhysical"/>).</summary>
    public Vector3 PhysicalToIndex(Vector3 point)
    {
        var d = point - Origin;
        return new Vector3(
            Vector3.Dot(Direction.Column(0), d) / Spacing.X,
            Vector3.Dot(Direction.Column(1), d) / Spacing.Y,
            Vector3.Dot(Direction.Column(2), d) / Spacing.Z);
    }

    /// <summary>The same grid with another size (e.g. a slab), keeping origin, spacing and direction.</summary>
    public VolumeGeometry WithSize(GridSize size) => new(size, Spacing, Origin, Direction);

    /// <summary>True when <paramref name="other"/> is the same voxel grid within <paramref name="millimetres"/> of every corner.</summary>
    public bool SameGrid(VolumeGeometry other, double millimetres = 1e-3)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Size != Size)
        {
            return false;
        }

        for (var corner = 0; corner < 8; corner++)
        {
            double i = (corner & 1) * (Size.I - 1), j = ((corner >> 1) & 1) * (Size.J - 1), k = ((corner >> 2) & 1) * (Size.K - 1);
            if ((IndexToPhysical(i, j, k) - other.IndexToPhysical(i, j, k)).Length > millimetres)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws <see cref="GeometryMismatchException"/> naming both grids when they differ.</summary>
    public void RequireSameGrid(VolumeGeometry other, string what)
    {
        if (!SameGrid(other))
        {
            throw new GeometryMismatchException($"{what} does not lie on the image's voxel grid: image {this}, {what} {other}");
        }
    }

    public override string ToString() => $"size {Size}, spacing {Spacing}, origin {Origin} (LPS), direction {Direction}";
}
