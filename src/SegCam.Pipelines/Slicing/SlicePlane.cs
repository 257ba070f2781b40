using SegCam.Volumes;
using SegCam.Volumes.Geometry;

namespace SegCam.Pipelines.Slicing;

/// <summary>
/// One plane of a volume perpendicular to an index axis, as a row-major 2-D array: for axis k the plane is
/// [J rows, I columns] (as a viewer shows an axial slice: i across, j down); for axis j it is [K, I]; for axis i [K, J].
/// </summary>
internal readonly record struct SlicePlane(int Axis, int Rows, int Columns)
{
    /// <summary>The plane geometry of <paramref name="size"/> cut perpendicular to <paramref name="axis"/>.</summary>
    public static SlicePlane Of(GridSize size, int axis) => axis switch
    {
        2 => new SlicePlane(2, size.J, size.I),
        1 => new SlicePlane(1, size.K, size.I),
        0 => new SlicePlane(0, size.K, size.J),
        _ => throw new ArgumentOutOfRangeException(nameof(axis), axis, "axis must be 0, 1 or 2"),
    };

    /// <summary>Pixels per plane.</summary>
    public int Pixels => Rows * Columns;

    /// <summary>Voxel (i, j, k) of pixel (row, column) on plane <paramref name="index"/>.</summary>
    public (int I, int J, int K) Voxel(int index, int row, int column) => Axis switch
    {
        2 => (column, row, index),
        1 => (column, index, row),
        _ => (index, column, row),
    };

    /// <summary>Whether voxel (i, j, k) lies on plane <paramref name="index"/>, and its row and column there.</summary>
    public (bool OnPlane, int Row, int Column) Locate(int i, int j, int k, int index) => Axis switch
    {
        2 => (k == index, j, i),
        1 => (j == index, k, i),
        _ => (i == index, k, j),
    };

    /// <summary>Copies plane <paramref name="index"/> of <paramref name="volume"/> into <paramref name="plane"/> as floats.</summary>
    public void Extract(Volume volume, int index, Span<float> plane, Span<double> sliceScratch)
    {
        var size = volume.Geometry.Size;
        if (Axis == 2)
        {
            volume.CopySlice(index, sliceScratch);
            for (var p = 0; p < Pixels; p++)
            {
                plane[p] = (float)sliceScratch[p];
            }

            return;
        }

        for (var k = 0; k < size.K; k++)
        {
            volume.CopySlice(k, sliceScratch);
            for (var c = 0; c < Columns; c++)
            {
                var flat = Axis == 1 ? (index * size.I) + c : (c * size.I) + index;
                plane[(k * Columns) + c] = (float)sliceScratch[flat];
            }
        }
    }

    /// <summary>Writes <paramref name="plane"/> into plane <paramref name="index"/> of a Float32 <paramref name="volume"/>.</summary>
    public void Insert(Volume volume, int index, ReadOnlySpan<float> plane)
    {
        var size = volume.Geometry.Size;
        if (Axis == 2)
        {
            plane[..Pixels].CopyTo(volume.Slice<float>(index));
            return;
        }

        for (var k = 0; k < size.K; k++)
        {
            var slice = volume.Slice<float>(k);
            for (var c = 0; c < Columns; c++)
            {
                var flat = Axis == 1 ? (index * size.I) + c : (c * size.I) + index;
                slice[flat] = plane[(k * Columns) + c];
            }
        }
    }

    /// <summary>Writes label <paramref name="plane"/> into plane <paramref name="index"/> of a UInt8 <paramref name="volume"/>.</summary>
    public void Insert(Volume volume, int index, ReadOnlySpan<byte> plane)
    {
        var size = volume.Geometry.Size;
        for (var row = 0; row < Rows; row++)
        {
            for (var c = 0; c < Columns; c++)
            {
                var (i, j, k) = Voxel(index, row, c);
                volume.Slice<byte>(k)[(j * size.I) + i] = plane[(row * Columns) + c];
            }
        }
    }
}
