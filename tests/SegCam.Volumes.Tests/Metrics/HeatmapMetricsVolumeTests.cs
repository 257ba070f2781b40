using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;
using SegCam.Volumes.Metrics;

namespace SegCam.Volumes.Tests.Metrics;

public sealed class HeatmapMetricsVolumeTests
{
    /// <summary>The "random" fixture (500 values) as a 10×10×5 volume would hold it: i fastest, then j, then k.</summary>
    private static readonly GridSize FixtureGrid = new(10, 10, 5);

    private static (Volume Heatmap, Volume Mask) ToVolumes<T>(T[] heatmap, bool[] mask, GridSize size, VoxelType heatmapType)
        where T : unmanaged
    {
        var geometry = new VolumeGeometry(size, new Vector3(0.8, 0.8, 2.5), new Vector3(-10, 4, 30), Direction3.Identity);
        var h = new Volume(geometry, heatmapType);
        var m = new Volume(geometry, VoxelType.UInt8);
        var perSlice = (int)size.SliceVoxels;
        for (var k = 0; k < size.K; k++)
        {
            heatmap.AsSpan(k * perSlice, perSlice).CopyTo(h.Slice<T>(k));
            var maskSlice = m.Slice<byte>(k);
            for (var v = 0; v < perSlice; v++)
            {
                maskSlice[v] = mask[(k * perSlice) + v] ? (byte)7 : (byte)0;   // any nonzero value is "in"
            }
        }

        return (h, m);
    }

    [Fact]
    public void Three_slice_float_volume_gives_the_same_numbers_as_the_flat_span()
    {
        // 4×3×3: three slices of 12 voxels.
        var rng = new Random(7);
        var heatmap = Enumerable.Range(0, 36).Select(_ => (float)((rng.NextDouble() * 4) - 1)).ToArray();
        heatmap[5] = heatmap[20];   // a tie across slices
        var mask = Enumerable.Range(0, 36).Select(_ => rng.NextDouble() < 0.3).ToArray();
        var (h, m) = ToVolumes(heatmap, mask, new GridSize(4, 3, 3), VoxelType.Float32);

        Assert.Equal(HeatmapMetrics.EnergyFraction(heatmap, mask), HeatmapMetrics.EnergyFraction(h, m));
        Assert.Equal(HeatmapMetrics.MeanDice(heatmap, mask), HeatmapMetrics.MeanDice(h, m));
        Assert.Equal(HeatmapMetrics.AveragePrecision(heatmap, mask), HeatmapMetrics.AveragePrecision(h, m));
        Assert.True(HeatmapMetrics.AveragePrecision(h, m).IsDefined);
    }

    [Fact]
    public void Float64_and_integer_volumes_match_the_flat_double_span()
    {
        var rng = new Random(11);
        var values = Enumerable.Range(0, 36).Select(_ => (double)rng.Next(-20, 40)).ToArray();
        var mask = Enumerable.Range(0, 36).Select(_ => rng.NextDouble() < 0.4).ToArray();
        var (h64, m) = ToVolumes(values, mask, new GridSize(3, 4, 3), VoxelType.Float64);
        var (h16, _) = ToVolumes(values.Select(v => (short)v).ToArray(), mask, new GridSize(3, 4, 3), VoxelType.Int16);
        foreach (var h in new[] { h64, h16 })
        {
            Assert.Equal(HeatmapMetrics.EnergyFraction(values, mask), HeatmapMetrics.EnergyFraction(h, m));
            Assert.Equal(HeatmapMetrics.MeanDice(values, mask), HeatmapMetrics.MeanDice(h, m));
            Assert.Equal(HeatmapMetrics.AveragePrecision(values, mask), HeatmapMetrics.AveragePrecision(h, m));
        }
    }

    [Fact]
    public void Fixture_volume_matches_scikit_learn_and_numpy()
    {
        var c = MetricFixtures.Get("random");
        var (h, m) = ToVolumes(c.Heatmap, c.Mask, FixtureGrid, VoxelType.Float32);
        Assert.Equal(c.AveragePrecision, HeatmapMetrics.AveragePrecision(h, m).Value!.Value, 1e-12);
        Assert.Equal(c.MeanDice, HeatmapMetrics.MeanDice(h, m).Value!.Value, 1e-12);
        Assert.Equal(c.EnergyFraction, HeatmapMetrics.EnergyFraction(h, m).Value!.Value, 1e-12);
    }

    [Fact]
    public void Volume_deletion_and_insertion_match_the_flat_span()
    {
        var c = MetricFixtures.Get("ties");
        var (h, _) = ToVolumes(c.Heatmap, c.Mask, FixtureGrid, VoxelType.Float32);
        var options = new PerturbationCurveOptions { Steps = 25 };
        var ct = TestContext.Current.CancellationToken;
        double Score(ReadOnlySpan<bool> removed)
        {
            // Weighted by position so that the order of removal, not only the count, changes the score.
            double s = 0;
            for (var q = 0; q < removed.Length; q++)
            {
                s += removed[q] ? 0 : c.Heatmap[q] * (1 + (q % 7));
            }

            return s;
        }

        var flat = DeletionInsertion.Deletion(c.Heatmap, Score, options, ct);
        var volume = DeletionInsertion.Deletion(h, Score, options, ct);
        Assert.Equal(flat.Points, volume.Points);
        Assert.Equal(flat.Area, volume.Area);
        Assert.Equal(DeletionInsertion.Insertion(c.Heatmap, Score, options, ct).Points, DeletionInsertion.Insertion(h, Score, options, ct).Points);
    }

    [Fact]
    public void Mismatched_geometry_is_rejected()
    {
        float[] heatmap = new float[36];
        bool[] mask = new bool[36];
        var (h, m) = ToVolumes(heatmap, mask, new GridSize(4, 3, 3), VoxelType.Float32);
        var shifted = new Volume(new VolumeGeometry(m.Geometry.Size, m.Geometry.Spacing, new Vector3(-9, 4, 30), Direction3.Identity), VoxelType.UInt8);
        var resized = new Volume(m.Geometry.WithSize(new GridSize(4, 3, 2)), VoxelType.UInt8);
        foreach (var other in new[] { shifted, resized })
        {
            Assert.Throws<GeometryMismatchException>(() => HeatmapMetrics.EnergyFraction(h, other));
            Assert.Throws<GeometryMismatchException>(() => HeatmapMetrics.MeanDice(h, other));
            Assert.Throws<GeometryMismatchException>(() => HeatmapMetrics.AveragePrecision(h, other));
        }
    }

    [Fact]
    public void Non_finite_voxel_is_reported_with_its_grid_index()
    {
        var heatmap = new float[36];
        heatmap[(2 * 12) + (1 * 4) + 3] = float.NaN;   // i=3, j=1, k=2 in a 4×3×3 grid
        var mask = new bool[36];
        mask[0] = true;
        var (h, m) = ToVolumes(heatmap, mask, new GridSize(4, 3, 3), VoxelType.Float32);
        var ex = Assert.Throws<InvalidRequestException>(() => HeatmapMetrics.MeanDice(h, m));
        Assert.Contains("flat index 31 (voxel i=3, j=1, k=2)", ex.Message, StringComparison.Ordinal);
    }
}
