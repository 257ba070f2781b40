using SegCam.Volumes;
using SegCam.Volumes.Geometry;

namespace SegCam.Pipelines;

/// <summary>Patch extent along the model's D, H, W (= the image's k, j, i).</summary>
internal readonly record struct PatchSize(int D, int H, int W)
{
    public int Voxels => checked(D * H * W);
}

/// <summary>Index of a patch's first voxel (k, j, i).</summary>
internal readonly record struct PatchOrigin(int Z, int Y, int X);

/// <summary>
/// Overlapping patches covering a volume, and their Gaussian blending weights. Patch positions and weights are
/// products over the three axes, so the weight a voxel collects from all patches is Wz(k)·Wy(j)·Wx(i).
/// </summary>
internal sealed class PatchGrid
{
    private readonly int[][] _positions;
    private readonly float[][] _gauss;
    private readonly double[][] _weightSums;
    private readonly GridSize _size;

    private PatchGrid(GridSize size, PatchSize patch, int[][] positions, float[][] gauss, double[][] weightSums)
    {
        _size = size;
        Patch = patch;
        _positions = positions;
        _gauss = gauss;
        _weightSums = weightSums;
    }

    public PatchSize Patch { get; }

    public int Count => _positions[0].Length * _positions[1].Length * _positions[2].Length;

    public static PatchGrid For(GridSize size, PatchSize patch, double overlap)
    {
        int[] lengths = [size.K, size.J, size.I];
        int[] extents = [patch.D, patch.H, patch.W];
        var positions = new int[3][];
        var gauss = new float[3][];
        var sums = new double[3][];
        for (var a = 0; a < 3; a++)
        {
            positions[a] = Positions(lengths[a], extents[a], overlap);
            gauss[a] = Gaussian(extents[a]);
            sums[a] = new double[lengths[a]];
            foreach (var p in positions[a])
            {
                for (var t = 0; t < extents[a] && p + t < lengths[a]; t++)
                {
                    sums[a][p + t] += gauss[a][t];
                }
            }
        }

        return new PatchGrid(size, patch, positions, gauss, sums);
    }

    // Evenly spread starts from 0 to L − P with a step of at most P·(1 − overlap); one patch when it covers the axis.
    private static int[] Positions(int length, int extent, double overlap)
    {
        if (length <= extent)
        {
            return [0];
        }

        var step = Math.Max(1, (int)Math.Floor(extent * (1 - overlap)));
        var count = (int)Math.Ceiling((length - extent) / (double)step) + 1;
        return Enumerable.Range(0, count).Select(i => (int)Math.Round(i * (length - extent) / (double)(count - 1))).Distinct().ToArray();
    }

    // exp(−(t − c)² / 2σ²), σ = P/8, peak 1, floored at 1e-3 so a border voxel covered by one patch keeps a usable weight.
    private static float[] Gaussian(int extent)
    {
        var sigma = extent / 8.0;
        var centre = (extent - 1) / 2.0;
        return Enumerable.Range(0, extent).Select(t => (float)Math.Max(1e-3, Math.Exp(-((t - centre) * (t - centre)) / (2 * sigma * sigma)))).ToArray();
    }

    public IEnumerable<PatchOrigin> Patches()
    {
        foreach (var z in _positions[0])
        {
            foreach (var y in _positions[1])
            {
                foreach (var x in _positions[2])
                {
                    yield return new PatchOrigin(z, y, x);
                }
            }
        }
    }

    /// <summary>True when any voxel of <paramref name="mask"/> inside patch <paramref name="p"/> is set.</summary>
    public bool Any(bool[][] mask, PatchOrigin p)
    {
        for (var d = 0; d < Patch.D && p.Z + d < _size.K; d++)
        {
            var slice = mask[p.Z + d];
            for (var h = 0; h < Patch.H && p.Y + h < _size.J; h++)
            {
                var row = (p.Y + h) * _size.I;
                for (var w = 0; w < Patch.W && p.X + w < _size.I; w++)
                {
                    if (slice[row + p.X + w])
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }

    /// <summary>Copies patch <paramref name="p"/> of a volume held as k-slices into [D, H, W]; outside the volume stays default.</summary>
    public void Extract<T>(T[][] source, PatchOrigin p, Span<T> target)
    {
        for (var d = 0; d < Patch.D && p.Z + d < _size.K; d++)
        {
            var slice = source[p.Z + d];
            for (var h = 0; h < Patch.H && p.Y + h < _size.J; h++)
            {
                var count = Math.Min(Patch.W, _size.I - p.X);
                slice.AsSpan(((p.Y + h) * _size.I) + p.X, count).CopyTo(target.Slice(((d * Patch.H) + h) * Patch.W, count));
            }
        }
    }

    /// <summary>Adds w·patch into a Float32 volume (cropping what lies outside).</summary>
    public void AccumulateWeighted(ReadOnlySpan<float> patch, PatchOrigin p, Volume target)
    {
        for (var d = 0; d < Patch.D && p.Z + d < _size.K; d++)
        {
            var slice = target.Slice<float>(p.Z + d);
            for (var h = 0; h < Patch.H && p.Y + h < _size.J; h++)
            {
                var gdh = _gauss[0][d] * _gauss[1][h];
                var row = (p.Y + h) * _size.I;
                var source = ((d * Patch.H) + h) * Patch.W;
                for (var w = 0; w < Patch.W && p.X + w < _size.I; w++)
                {
                    slice[row + p.X + w] += gdh * _gauss[2][w] * patch[source + w];
                }
            }
        }
    }

    /// <summary>Divides every voxel by the total weight of the patches covering it.</summary>
    public void DivideByWeights(Volume target)
    {
        for (var k = 0; k < _size.K; k++)
        {
            var slice = target.Slice<float>(k);
            for (var j = 0; j < _size.J; j++)
            {
                var wkj = _weightSums[0][k] * _weightSums[1][j];
                for (var i = 0; i < _size.I; i++)
                {
                    slice[(j * _size.I) + i] = (float)(slice[(j * _size.I) + i] / (wkj * _weightSums[2][i]));
                }
            }
        }
    }
}
