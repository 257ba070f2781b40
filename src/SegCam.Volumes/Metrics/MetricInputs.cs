using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Metrics;

/// <summary>Input checks shared by the metrics; every message names the offending length or voxel.</summary>
internal static class MetricInputs
{
    /// <summary>Throws unless the heatmap is non-empty and the mask has one value per heatmap voxel.</summary>
    public static void RequireMatchingLengths(int heatmapLength, int maskLength)
    {
        if (heatmapLength != maskLength)
        {
            throw new InvalidRequestException(
                $"the heatmap has {heatmapLength} values but the mask has {maskLength}; they must have the same length (one mask value per heatmap voxel)");
        }

        RequireNotEmpty(heatmapLength);
    }

    /// <summary>Throws when the heatmap has no values.</summary>
    public static void RequireNotEmpty(long heatmapLength)
    {
        if (heatmapLength == 0)
        {
            throw new InvalidRequestException("the heatmap is empty; a metric needs at least one voxel");
        }
    }

    /// <summary>Throws when a volume has more voxels than one array can hold (metrics that sort need them all at once).</summary>
    public static int RequireArraySized(GridSize size, string metric)
    {
        if (size.Voxels > Array.MaxLength)
        {
            throw new ResourceLimitException(
                $"{metric} needs all {size.Voxels} voxels of the {size} heatmap in one array; at most {Array.MaxLength} are supported");
        }

        return (int)size.Voxels;
    }

    /// <summary>The heatmap value as a double, or an error naming the voxel when it is NaN or infinite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Finite<T>(T value, long flatIndex, GridSize? grid)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var v = double.CreateTruncating(value);
        if (!double.IsFinite(v))
        {
            ThrowNonFinite(v, flatIndex, grid);
        }

        return v;
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNonFinite(double value, long flatIndex, GridSize? grid)
        => throw new InvalidRequestException(
            $"the heatmap value at {Where(flatIndex, grid)} is {value.ToString(CultureInfo.InvariantCulture)}; heatmap values must be finite");

    /// <summary>"flat index 17", plus "(voxel i=…, j=…, k=…)" when the grid is known.</summary>
    public static string Where(long flatIndex, GridSize? grid)
    {
        if (grid is not GridSize g)
        {
            return $"flat index {flatIndex}";
        }

        var i = flatIndex % g.I;
        var j = flatIndex / g.I % g.J;
        var k = flatIndex / g.SliceVoxels;
        return $"flat index {flatIndex} (voxel i={i}, j={j}, k={k})";
    }
}
