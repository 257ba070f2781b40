using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Phantoms;

/// <summary>Size and appearance of a generated phantom.</summary>
public sealed record PhantomOptions
{
    /// <summary>Voxels along i (left), j (posterior), k (superior). Default 128 × 128 × 48.</summary>
    public GridSize Size { get; init; } = new(128, 128, 48);

    /// <summary>Voxel spacing in mm. Default 2.5 × 2.5 × 3.</summary>
    public Vector3 Spacing { get; init; } = new(2.5, 2.5, 3);

    /// <summary>Standard deviation of the Gaussian noise in HU. Default 15.</summary>
    public double NoiseHu { get; init; } = 15;

    /// <summary>Probability that the phantom has a tumour. Default 0.85.</summary>
    public double TumourProbability { get; init; } = 0.85;

    /// <summary>Checks ranges; the message names the option and what is allowed.</summary>
    public void Validate()
    {
        if (Size.I is < 16 or > 1024 || Size.J is < 16 or > 1024 || Size.K is < 1 or > 1024)
        {
            throw new InvalidRequestException($"phantom size {Size} is out of range; allowed: 16..1024 in-plane, 1..1024 slices");
        }

        if (!(Spacing.X > 0 && Spacing.Y > 0 && Spacing.Z > 0) || !Spacing.IsFinite)
        {
            throw new InvalidRequestException($"phantom spacing {Spacing} must be positive");
        }

        if (NoiseHu is < 0 or > 500 || TumourProbability is < 0 or > 1)
        {
            throw new InvalidRequestException($"phantom noise {NoiseHu} HU (allowed 0..500) or tumour probability {TumourProbability} (allowed 0..1) is out of range");
        }
    }
}
