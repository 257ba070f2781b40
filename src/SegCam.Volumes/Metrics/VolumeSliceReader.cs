using System.Numerics;
using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Metrics;

/// <summary>
/// Reads a heatmap volume (and optionally a mask volume on the same grid) one k-slice at a time, as flat spans in the
/// volume's voxel order (i fastest, then j, then k), reusing one slice buffer each, so no metric copies the whole
/// volume unless it must sort it. Float32 heatmaps are read in place as <see cref="float"/>; Float64 in place as
/// <see cref="double"/>; integer heatmaps are converted to <see cref="double"/> slice by slice.
/// </summary>
internal sealed class VolumeSliceReader<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Volume _heatmap;
    private readonly Volume? _mask;
    private readonly T[]? _heatmapBuffer;
    private readonly double[]? _maskValues;
    private readonly bool[]? _maskBuffer;

    public VolumeSliceReader(Volume heatmap, Volume? mask)
    {
        ArgumentNullException.ThrowIfNull(heatmap);
        if (mask is not null)
        {
            heatmap.Geometry.RequireSameGrid(mask.Geometry, "mask");
        }

        var inPlace = heatmap.Type == VoxelTypes.Of<T>();
        if (!inPlace && typeof(T) != typeof(double))
        {
            throw new InvalidOperationException($"a {heatmap.Type} heatmap is read as double, not {typeof(T).Name}");
        }

        _heatmap = heatmap;
        _mask = mask;
        var sliceVoxels = (int)heatmap.Geometry.Size.SliceVoxels;
        _heatmapBuffer = inPlace ? null : new T[sliceVoxels];
        if (mask is not null)
        {
            _maskValues = new double[sliceVoxels];
            _maskBuffer = new bool[sliceVoxels];
        }
    }

    /// <summary>Number of k-slices.</summary>
    public int Slices => _heatmap.Geometry.Size.K;

    /// <summary>The grid, for error messages that name a voxel.</summary>
    public GridSize Grid => _heatmap.Geometry.Size;

    /// <summary>Flat index of the first voxel of slice <paramref name="k"/>.</summary>
    public long Offset(int k) => k * Grid.SliceVoxels;

    /// <summary>Heatmap slice <paramref name="k"/>; valid until the next call.</summary>
    public ReadOnlySpan<T> Heatmap(int k)
    {
        if (_heatmapBuffer is null)
        {
            return _heatmap.Slice<T>(k);
        }

        // Only reached for T = double (checked in the constructor).
        _heatmap.CopySlice(k, (double[])(object)_heatmapBuffer);
        return _heatmapBuffer;
    }

    /// <summary>Mask slice <paramref name="k"/>: true where the mask voxel is nonzero; valid until the next call.</summary>
    public ReadOnlySpan<bool> Mask(int k)
    {
        if (_mask is null || _maskValues is null || _maskBuffer is null)
        {
            throw new InvalidOperationException("this reader has no mask");
        }

        _mask.CopySlice(k, _maskValues);
        for (var q = 0; q < _maskValues.Length; q++)
        {
            var v = _maskValues[q];
            if (double.IsNaN(v))
            {
                throw new InvalidRequestException($"the mask value at {MetricInputs.Where(Offset(k) + q, Grid)} is NaN; a mask voxel is in (nonzero) or out (0)");
            }

            _maskBuffer[q] = v != 0;
        }

        return _maskBuffer;
    }
}
