using SegCam.Volumes.Geometry;

namespace SegCam.Pipelines.Slicing;

/// <summary>The anatomical direction a 2-D model's slices are perpendicular to.</summary>
public enum AnatomicalAxis
{
    /// <summary>Slices perpendicular to the superior axis (the usual CT acquisition).</summary>
    Axial,

    /// <summary>Slices perpendicular to the posterior axis.</summary>
    Coronal,

    /// <summary>Slices perpendicular to the left axis.</summary>
    Sagittal,
}

/// <summary>Maps an anatomical axis onto the index axis (0 = i, 1 = j, 2 = k) of an image's grid.</summary>
public static class SliceAxes
{
    /// <summary>The index axis whose direction is closest to <paramref name="axis"/> (LPS: sagittal x, coronal y, axial z).</summary>
    public static int IndexAxis(VolumeGeometry geometry, AnatomicalAxis axis)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        var row = axis switch
        {
            AnatomicalAxis.Sagittal => 0,
            AnatomicalAxis.Coronal => 1,
            _ => 2,
        };
        var best = 0;
        for (var a = 1; a < 3; a++)
        {
            if (Math.Abs(geometry.Direction[row, a]) > Math.Abs(geometry.Direction[row, best]))
            {
                best = a;
            }
        }

        return best;
    }

    /// <summary>Parses "axial", "coronal" or "sagittal".</summary>
    public static AnatomicalAxis Parse(string name) => name?.ToLowerInvariant() switch
    {
        "axial" => AnatomicalAxis.Axial,
        "coronal" => AnatomicalAxis.Coronal,
        "sagittal" => AnatomicalAxis.Sagittal,
        _ => throw new Common.Errors.InvalidRequestException($"slice axis '{name}' is not allowed; allowed: axial, coronal, sagittal"),
    };
}
