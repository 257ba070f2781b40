using SegCam.Cam.Execution;
using SegCam.Cam.Methods;

namespace SegCam.Cam.Tests;

/// <summary>
/// The post-processing graph (METHODS.md §3) against a direct computation: ReLU, then per-item normalisation, on maps
/// with the items that test its guards — mixed signs, all zero, all negative, constant.
/// </summary>
public sealed class PostProcessTests
{
    private static readonly float[][] Items =
    [
        [0.5f, -1.25f, 2f, 0f, 3.5f, -0.75f, 1f, 0.25f, -2f, 4f, 0f, 1.5f, -3f, 2.5f, 0.125f],
        new float[15],
        [-0.5f, -1f, -2f, -0.25f, -3f, -1.5f, -0.125f, -4f, -2.5f, -1f, -0.75f, -3.5f, -1.25f, -2f, -0.5f],
        Enumerable.Repeat(1.75f, 15).ToArray(),
    ];

    [Theory]
    [InlineData(CamNormalization.None, true)]
    [InlineData(CamNormalization.None, false)]
    [InlineData(CamNormalization.Max, true)]
    [InlineData(CamNormalization.Max, false)]
    [InlineData(CamNormalization.MaxAbs, false)]
    [InlineData(CamNormalization.MinMax, true)]
    [InlineData(CamNormalization.MinMax, false)]
    public void Each_item_is_normalised_as_defined_and_never_nan(CamNormalization normalization, bool relu)
    {
        var options = new CamOptions { Relu = relu, Normalization = normalization };
        long[] shape = [Items.Length, 1, 3, 5];
        using var session = new PostProcessSession(shape, [3, 5], options, 17, new SessionOptionsFactory(ExecutionDevice.Cpu));
        var result = session.Run(Items.SelectMany(i => i).ToArray());

        Assert.Equal(Items.Length * 15, result.Length);
        for (var n = 0; n < Items.Length; n++)
        {
            var expected = Expected(Items[n], normalization, relu);
            for (var p = 0; p < 15; p++)
            {
                Assert.Equal(expected[p], result[(n * 15) + p], 6);
            }
        }
    }

    // METHODS.md §3: H / d where d > 0, else 0; min-max divides H − min by the range.
    private static double[] Expected(float[] item, CamNormalization normalization, bool relu)
    {
        var h = item.Select(v => relu ? Math.Max(v, 0.0) : v).ToArray();
        double[] Scale(double[] x, double d) => x.Select(v => d > 0 ? v / d : 0).ToArray();
        return normalization switch
        {
            CamNormalization.None => h,
            CamNormalization.Max => Scale(h, h.Max()),
            CamNormalization.MaxAbs => Scale(h, h.Max(Math.Abs)),
            CamNormalization.MinMax => Scale(h.Select(v => v - h.Min()).ToArray(), h.Max() - h.Min()),
            _ => throw new ArgumentOutOfRangeException(nameof(normalization)),
        };
    }
}
