using System.Numerics;

namespace SegCam.Volumes.Metrics;

/// <summary>The <see cref="Volume"/> overloads: heatmap and mask volumes on one grid, read one k-slice at a time.</summary>
public static partial class HeatmapMetrics
{
    /// <summary>
    /// <see cref="EnergyFraction(ReadOnlySpan{float}, ReadOnlySpan{bool})"/> of a heatmap volume against a mask volume
    /// (a voxel is in the mask when its value is nonzero), read slice by slice without copying either volume.
    /// </summary>
    /// <exception cref="SegCam.Common.Errors.GeometryMismatchException">The mask does not lie on the heatmap's voxel grid.</exception>
    public static MetricResult EnergyFraction(Volume heatmap, Volume mask)
    {
        ArgumentNullException.ThrowIfNull(heatmap);
        ArgumentNullException.ThrowIfNull(mask);
        return heatmap.Type == VoxelType.Float32 ? EnergyFractionCore<float>(heatmap, mask) : EnergyFractionCore<double>(heatmap, mask);
    }

    /// <summary>
    /// <see cref="MeanDice(ReadOnlySpan{float}, ReadOnlySpan{bool})"/> (seed 001 eq. 9) of a heatmap volume against a mask
    /// volume (nonzero = in), in two passes over the slices (minimum and maximum, then H8 histograms) without copying.
    /// </summary>
    /// <exception cref="SegCam.Common.Errors.GeometryMismatchException">The mask does not lie on the heatmap's voxel grid.</exception>
    public static MetricResult MeanDice(Volume heatmap, Volume mask)
    {
        ArgumentNullException.ThrowIfNull(heatmap);
        ArgumentNullException.ThrowIfNull(mask);
        return heatmap.Type == VoxelType.Float32 ? MeanDiceCore<float>(heatmap, mask) : MeanDiceCore<double>(heatmap, mask);
    }

    /// <summary>
    /// <see cref="AveragePrecision(ReadOnlySpan{float}, ReadOnlySpan{bool})"/> (seed 003 pixel-wise AUPRC) of a heatmap
    /// volume against a mask volume (nonzero = in). Sorting needs every score at once, so this holds one copy of the
    /// scores (4 bytes a voxel for a Float32 heatmap, 8 otherwise), filled slice by slice.
    /// </summary>
    /// <exception cref="SegCam.Common.Errors.GeometryMismatchException">The mask does not lie on the heatmap's voxel grid.</exception>
    /// <exception cref="SegCam.Common.Errors.ResourceLimitException">The volume has more voxels than one array holds.</exception>
    public static MetricResult AveragePrecision(Volume heatmap, Volume mask)
    {
        ArgumentNullException.ThrowIfNull(heatmap);
        ArgumentNullException.ThrowIfNull(mask);
        return heatmap.Type == VoxelType.Float32 ? AveragePrecisionCore<float>(heatmap, mask) : AveragePrecisionCore<double>(heatmap, mask);
    }

    private static MetricResult EnergyFractionCore<T>(Volume heatmap, Volume mask)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var reader = new VolumeSliceReader<T>(heatmap, mask);
        var energy = new EnergyAccumulator();
        for (var k = 0; k < reader.Slices; k++)
        {
            energy.Add(reader.Heatmap(k), reader.Mask(k), reader.Offset(k), reader.Grid);
        }

        return energy.Result();
    }

    private static MetricResult MeanDiceCore<T>(Volume heatmap, Volume mask)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var reader = new VolumeSliceReader<T>(heatmap, mask);
        var range = new HeatmapRange();
        for (var k = 0; k < reader.Slices; k++)
        {
            range.Add(reader.Heatmap(k), reader.Offset(k), reader.Grid);
        }

        var dice = new DiceHistogram(range.Scaler());
        for (var k = 0; k < reader.Slices; k++)
        {
            dice.Add(reader.Heatmap(k), reader.Mask(k));
        }

        return dice.Result();
    }

    private static MetricResult AveragePrecisionCore<T>(Volume heatmap, Volume mask)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var reader = new VolumeSliceReader<T>(heatmap, mask);
        var voxels = MetricInputs.RequireArraySized(reader.Grid, "average precision");
        var positives = 0;
        for (var k = 0; k < reader.Slices; k++)
        {
            positives += reader.Mask(k).Count(true);
        }

        var ap = new AveragePrecisionCollector<T>(positives, voxels);
        for (var k = 0; k < reader.Slices; k++)
        {
            ap.Add(reader.Heatmap(k), reader.Mask(k), reader.Offset(k), reader.Grid);
        }

        return ap.Result();
    }
}
