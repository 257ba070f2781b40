using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;
using SegCam.Volumes.Phantoms;

namespace SegCam.Volumes.Tests.Phantoms;

public sealed class AbdominalPhantomTests
{
    private static readonly PhantomOptions Small = new() { Size = new GridSize(64, 64, 24), Spacing = new Vector3(5, 5, 6), TumourProbability = 1 };

    [Fact]
    public void Same_seed_gives_the_same_phantom_and_another_seed_another()
    {
        var ct = TestContext.Current.CancellationToken;
        var a = AbdominalPhantom.Generate(Small, 3, ct);
        var b = AbdominalPhantom.Generate(Small, 3, ct);
        var c = AbdominalPhantom.Generate(Small, 4, ct);
        Assert.True(a.Ct.ContentEquals(b.Ct));
        Assert.True(a.Labels.ContentEquals(b.Labels));
        Assert.False(a.Labels.ContentEquals(c.Labels));
    }

    [Fact]
    public void Labels_mark_tissue_with_the_expected_hounsfield_units()
    {
        var (ct, labels) = AbdominalPhantom.Generate(Small, 11, TestContext.Current.CancellationToken);
        var sums = new double[3];
        var counts = new long[3];
        long leftKidney = 0, rightKidney = 0;
        var size = ct.Geometry.Size;
        for (var k = 0; k < size.K; k++)
        {
            for (var j = 0; j < size.J; j++)
            {
                for (var i = 0; i < size.I; i++)
                {
                    var label = (int)labels[i, j, k];
                    sums[label] += ct[i, j, k];
                    counts[label]++;
                    if (label == AbdominalPhantom.Kidney)
                    {
                        _ = i < size.I / 2 ? rightKidney++ : leftKidney++;
                    }
                }
            }
        }

        Assert.True(counts[AbdominalPhantom.Tumour] > 0, "a tumour is drawn when its probability is 1");
        Assert.True(leftKidney > 0 && rightKidney > 0, "both kidneys are present");
        Assert.InRange(sums[1] / counts[1], 100, 170);
        Assert.InRange(sums[2] / counts[2], 20, 100);
        Assert.InRange(sums[0] / counts[0], -1000, 0);
    }

    [Fact]
    public void No_tumour_when_its_probability_is_zero()
    {
        var (_, labels) = AbdominalPhantom.Generate(Small with { TumourProbability = 0 }, 5, TestContext.Current.CancellationToken);
        for (var k = 0; k < labels.Geometry.Size.K; k++)
        {
            Assert.DoesNotContain(AbdominalPhantom.Tumour, labels.Slice<byte>(k).ToArray());
        }
    }

    [Fact]
    public void Volume_centre_is_the_patient_origin()
    {
        var (ct, labels) = AbdominalPhantom.Generate(Small, 1, TestContext.Current.CancellationToken);
        var g = ct.Geometry;
        var centre = g.IndexToPhysical((g.Size.I - 1) / 2.0, (g.Size.J - 1) / 2.0, (g.Size.K - 1) / 2.0);
        Assert.True(centre.Length < 1e-9, $"centre at {centre}");
        Assert.Equal(g, labels.Geometry);
        Assert.Equal(VoxelType.Int16, ct.Type);
        Assert.Equal(VoxelType.UInt8, labels.Type);
    }

    [Fact]
    public void Out_of_range_options_are_rejected()
    {
        var ex = Assert.Throws<InvalidRequestException>(() => AbdominalPhantom.Generate(Small with { Size = new GridSize(8, 64, 4) }, 1, TestContext.Current.CancellationToken));
        Assert.Contains("16..1024", ex.Message, StringComparison.Ordinal);
    }
}
