using SegCam.Common.Errors;
using SegCam.Pipelines.Slicing;
using SegCam.Volumes;
using SegCam.Volumes.Geometry;

namespace SegCam.Pipelines;

/// <summary>
/// The voxels M whose class score is explained, on the image's grid: a label value of a label map, the model's own
/// prediction of the class, a box, points, or run-length-encoded voxel runs.
/// </summary>
public abstract record VolumePixelSet
{
    /// <summary>Voxels of <paramref name="labels"/> equal to <paramref name="value"/>; the label map must lie on the image grid.</summary>
    public static VolumePixelSet Label(Volume labels, int value) => new LabelPixels(labels, value);

    /// <summary>Where the model predicts the explained class (argmax), found by a segmentation pass.</summary>
    public static VolumePixelSet Predicted() => new PredictedPixels();

    /// <summary>Every voxel of the image.</summary>
    public static VolumePixelSet All() => new AllPixels();

    /// <summary>Voxels with min ≤ index &lt; max on every axis.</summary>
    public static VolumePixelSet Box((int I, int J, int K) min, (int I, int J, int K) max) => new BoxPixels(min, max);

    /// <summary>Individual voxels.</summary>
    public static VolumePixelSet Points(IReadOnlyList<(int I, int J, int K)> points) => new PointPixels(points);

    /// <summary>Runs (start, length) over the flat voxel index i + I·(j + J·k).</summary>
    public static VolumePixelSet Runs(IReadOnlyList<(long Start, long Length)> runs) => new RunPixels(runs);

    /// <summary>The set as a UInt8 mask volume (1 inside) on <paramref name="geometry"/>, e.g. a ground truth for metrics.</summary>
    public Volume ToMask(VolumeGeometry geometry)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        if (IsPredicted)
        {
            throw new InvalidRequestException("the model's prediction is not a fixed mask; give a label, box, points or runs");
        }

        Validate(geometry);
        var mask = new Volume(geometry, VoxelType.UInt8);
        var plane = SlicePlane.Of(geometry.Size, 2);
        var row = new bool[plane.Pixels];
        for (var k = 0; k < geometry.Size.K; k++)
        {
            Fill(plane, geometry.Size, k, row);
            var slice = mask.Slice<byte>(k);
            for (var v = 0; v < row.Length; v++)
            {
                slice[v] = row[v] ? (byte)1 : (byte)0;
            }
        }

        return mask;
    }

    /// <summary>True for <see cref="Predicted"/>: a segmentation pass resolves it, and the result holds the label map.</summary>
    public virtual bool IsPredicted => false;

    /// <summary>Marks the pixels of plane <paramref name="index"/> whose voxel satisfies <paramref name="inSet"/>.</summary>
    private protected static bool FillWhere(SlicePlane plane, int index, Span<bool> mask, Func<int, int, int, bool> inSet)
    {
        var any = false;
        for (var r = 0; r < plane.Rows; r++)
        {
            for (var c = 0; c < plane.Columns; c++)
            {
                var (i, j, k) = plane.Voxel(index, r, c);
                var hit = inSet(i, j, k);
                mask[(r * plane.Columns) + c] = hit;
                any |= hit;
            }
        }

        return any;
    }

    /// <summary>Checks the set against the image grid.</summary>
    internal abstract void Validate(VolumeGeometry image);

    /// <summary>Marks the set's pixels on plane <paramref name="index"/>; returns whether any is set.</summary>
    internal abstract bool Fill(SlicePlane plane, GridSize size, int index, Span<bool> mask);

    private sealed record LabelPixels(Volume Labels, int Value) : VolumePixelSet
    {
        internal override void Validate(VolumeGeometry image)
        {
            image.RequireSameGrid(Labels.Geometry, "the label map");
            if (Labels.Type.IsFloatingPoint())
            {
                throw new InvalidRequestException($"the label map has {Labels.Type} voxels; a label map holds integers");
            }
        }

        internal override bool Fill(SlicePlane plane, GridSize size, int index, Span<bool> mask)
            => FillWhere(plane, index, mask, (i, j, k) => (int)Labels[i, j, k] == Value);
    }

    private sealed record PredictedPixels : VolumePixelSet
    {
        public override bool IsPredicted => true;

        internal override void Validate(VolumeGeometry image)
        {
        }

        internal override bool Fill(SlicePlane plane, GridSize size, int index, Span<bool> mask) => throw new InvalidOperationException("the predicted set is filled from the segmentation pass");
    }

    private sealed record AllPixels : VolumePixelSet
    {
        internal override void Validate(VolumeGeometry image)
        {
        }

        internal override bool Fill(SlicePlane plane, GridSize size, int index, Span<bool> mask)
        {
            mask[..plane.Pixels].Fill(true);
            return true;
        }
    }

    private sealed record BoxPixels((int I, int J, int K) Min, (int I, int J, int K) Max) : VolumePixelSet
    {
        internal override void Validate(VolumeGeometry image)
        {
            var s = image.Size;
            if (Min.I < 0 || Min.J < 0 || Min.K < 0 || Max.I > s.I || Max.J > s.J || Max.K > s.K || Min.I >= Max.I || Min.J >= Max.J || Min.K >= Max.K)
            {
                throw new InvalidRequestException($"box {Min}–{Max} is empty or outside the image {s}; min is inclusive, max exclusive");
            }
        }

        internal override bool Fill(SlicePlane plane, GridSize size, int index, Span<bool> mask)
            => FillWhere(plane, index, mask, (i, j, k) => i >= Min.I && i < Max.I && j >= Min.J && j < Max.J && k >= Min.K && k < Max.K);
    }

    private sealed record PointPixels(IReadOnlyList<(int I, int J, int K)> List) : VolumePixelSet
    {
        internal override void Validate(VolumeGeometry image)
        {
            var s = image.Size;
            foreach (var p in List)
            {
                if (p.I < 0 || p.J < 0 || p.K < 0 || p.I >= s.I || p.J >= s.J || p.K >= s.K)
                {
                    throw new InvalidRequestException($"point {p} is outside the image {s}");
                }
            }
        }

        internal override bool Fill(SlicePlane plane, GridSize size, int index, Span<bool> mask)
        {
            mask[..plane.Pixels].Clear();
            var any = false;
            foreach (var p in List)
            {
                if (plane.Locate(p.I, p.J, p.K, index) is var (onPlane, row, column) && onPlane)
                {
                    mask[(row * plane.Columns) + column] = true;
                    any = true;
                }
            }

            return any;
        }
    }

    private sealed record RunPixels(IReadOnlyList<(long Start, long Length)> List) : VolumePixelSet
    {
        internal override void Validate(VolumeGeometry image)
        {
            var total = image.Size.Voxels;
            foreach (var (start, length) in List)
            {
                if (start < 0 || length < 1 || start + length > total)
                {
                    throw new InvalidRequestException($"voxel run ({start}, {length}) is outside the image's {total} voxels");
                }
            }
        }

        internal override bool Fill(SlicePlane plane, GridSize size, int index, Span<bool> mask)
        {
            mask[..plane.Pixels].Clear();
            var any = false;
            foreach (var (start, length) in List)
            {
                for (var v = start; v < start + length; v++)
                {
                    var i = (int)(v % size.I);
                    var j = (int)(v / size.I % size.J);
                    var k = (int)(v / size.SliceVoxels);
                    if (plane.Locate(i, j, k, index) is var (onPlane, row, column) && onPlane)
                    {
                        mask[(row * plane.Columns) + column] = true;
                        any = true;
                    }
                }
            }

            return any;
        }
    }
}
