using System.Diagnostics;
using SegCam.Cam.Methods;

namespace SegCam.Cam.Tests;

/// <summary>
/// Tests for <see cref="EigenProjection"/>. The NumPy reference values were produced once with Debian's
/// NumPy 1.24.2 (/usr/bin/python3) by this script; the C# helpers below build the same float32 matrices:
/// <code>
/// import numpy as np
/// def sinmat(K, P):
///     k = np.arange(K, dtype=np.float64)[:, None]; p = np.arange(P, dtype=np.float64)[None, :]
///     return (np.sin(0.37*k*p + 0.11*k) + 0.05*k).astype(np.float32)
/// def lcg(n, seed):
///     out = np.empty(n); s = seed; M = (1 &lt;&lt; 64) - 1
///     for i in range(n):
///         s = (s*6364136223846793005 + 1442695040888963407) &amp; M
///         out[i] = (s &gt;&gt; 11) / float(1 &lt;&lt; 53)
///     return out
/// def noise(K, P, seed):
///     return (2*lcg(K*P, seed) - 1).reshape(K, P).astype(np.float32)
/// def noisy(K, P, seed):
///     a = (2*lcg(K*P, seed) - 1).reshape(K, P)
///     k = np.arange(K, dtype=np.float64)[:, None]; p = np.arange(P, dtype=np.float64)[None, :]
///     return (a + 1.5*np.cos(0.05*p)*np.cos(0.3*k + 0.2)).astype(np.float32)
/// def proj(A, center=True):
///     X = np.nan_to_num(A.astype(np.float64).reshape(A.shape[0], -1).T, nan=0.0)
///     if center: X = X - X.mean(axis=0)
///     U, S, VT = np.linalg.svd(X, full_matrices=False)
///     e = X @ VT[0]
///     if abs(e.min()) &gt; abs(e.max()): e = -e
///     return e
/// e = proj(sinmat(8, 400))   # and the other cases below
/// print(repr(e[0]), repr(e[17]), repr(e[-1]), repr(e.max()), repr(e.min()), e.argmax(), e.argmin())
/// </code>
/// </summary>
public sealed class EigenProjectionTests
{
    // Relative to max|e|; the requirement is 1e-4, the implementation is far more accurate than that.
    private const double Tolerance = 1e-12;

    [Fact]
    public void Projection_matches_numpy_svd_for_a_few_channels_on_the_jacobi_path()
    {
        // proj(sinmat(8, 400))
        var e = EigenProjection.Project(SineMatrix(8, 400), 8, 400);
        AssertMatchesReference(
            e,
            new Reference(0.16339273641767343, 0.1705081900729381, -0.9657632299846828, 2.0481827777886066, -2.0387303905321454, 398, 9));
    }

    [Fact]
    public void Projection_without_centering_matches_numpy_svd_of_the_raw_matrix()
    {
        // proj(sinmat(8, 400), center=False)
        var e = EigenProjection.Project(SineMatrix(8, 400), 8, 400, center: false);
        AssertMatchesReference(
            e,
            new Reference(1.8073523729508516, 1.8714199692294904, 0.3987409503889643, 2.664017263615886, -1.4646794208567087, 391, 16));
    }

    [Fact]
    public void Projection_matches_numpy_svd_for_twelve_noise_channels()
    {
        // proj(noise(12, 400, 5))
        var e = EigenProjection.Project(NoiseMatrix(12, 400, 5), 12, 400);
        AssertMatchesReference(
            e,
            new Reference(0.7274425458394205, -0.02489138908587332, -0.22319474690138374, 2.2277866017465815, -1.581397889260804, 362, 52));
    }

    [Fact]
    public void Projection_matches_numpy_svd_for_100_channels_with_a_dominant_component()
    {
        // proj(noisy(100, 400, 12345))
        var e = EigenProjection.Project(NoisyTrendMatrix(100, 400, 12345), 100, 400);
        AssertMatchesReference(
            e,
            new Reference(-9.490108123445166, -6.186340187705637, -4.173250205860452, 12.395863925236295, -11.522498440184034, 61, 380));
    }

    [Fact]
    public void Projection_without_centering_matches_numpy_svd_for_100_channels()
    {
        // proj(noisy(100, 400, 12345), center=False)
        var e = EigenProjection.Project(NoisyTrendMatrix(100, 400, 12345), 100, 400, center: false);
        AssertMatchesReference(
            e,
            new Reference(10.006683244898044, 6.702475938738906, 4.689281481647385, 12.039128568015084, -11.877701136257068, 380, 61));
    }

    [Fact]
    public void Projection_matches_numpy_svd_for_100_noise_channels_with_close_singular_values()
    {
        // proj(noise(100, 400, 777)); the top two singular values differ by only 0.6 %.
        var e = EigenProjection.Project(NoiseMatrix(100, 400, 777), 100, 400);
        AssertMatchesReference(
            e,
            new Reference(-1.0982208378944458, 0.6982544294779589, -1.6670725258629167, 2.863682826830392, -2.3087952638842406, 195, 61));
    }

    [Fact]
    public void Projection_matches_numpy_svd_for_256_noise_channels_and_1024_positions()
    {
        // proj(noise(256, 1024, 2024))
        var e = EigenProjection.Project(NoiseMatrix(256, 1024, 2024), 256, 1024);
        AssertMatchesReference(
            e,
            new Reference(0.21507406901904594, -0.5317152025435778, 0.762199448931413, 3.215350571601633, -2.392257991568281, 546, 5));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(100)]
    public void Projection_of_a_rank_one_matrix_is_the_centred_position_factor_scaled_by_the_channel_factor_norm(int channels)
    {
        // A = w uᵀ with small integers, exact in float32: the centred X is (u - mean u) wᵀ, so e = ±|w| (u - mean u).
        const int positions = 400;
        var u = new double[positions];
        for (var p = 0; p < positions; p++)
        {
            u[p] = p * 7 % 13 - 6 + (p == 123 ? 9 : 0);
        }

        var w = new double[channels];
        for (var k = 0; k < channels; k++)
        {
            w[k] = k % 5 - 2 + (k == 0 ? 4 : 0);
        }

        var e = EigenProjection.Project(Outer(w, u), channels, positions);

        var expected = CentredTimesNorm(u, w);
        if (Math.Abs(expected.Min()) > Math.Abs(expected.Max()))
        {
            expected = [.. expected.Select(x => -x)];
        }

        AssertClose(expected, e, 1e-10);
    }

    [Fact]
    public void Projection_is_negated_when_its_largest_magnitude_is_negative()
    {
        // u has one strongly negative position, so (u - mean u) has |min| > |max| and the sign rule must flip it:
        // the outlier comes out positive.
        const int positions = 60;
        var u = new double[positions];
        for (var p = 0; p < positions; p++)
        {
            u[p] = p % 3;
        }

        u[37] = -30;
        double[] w = [1, -2, 3, 2];

        var e = EigenProjection.Project(Outer(w, u), w.Length, positions);

        var expected = CentredTimesNorm(u, w).Select(x => -x).ToArray();
        AssertClose(expected, e, 1e-12);
        Assert.True(e[37] > 0);
        Assert.True(e.Max() >= Math.Abs(e.Min()));
    }

    [Theory]
    [InlineData(8)]
    [InlineData(100)]
    public void Negated_activations_give_the_same_projection(int channels)
    {
        var activations = NoiseMatrix(channels, 300, 99);
        var negated = activations.Select(x => -x).ToArray();

        var e = EigenProjection.Project(activations, channels, 300);
        var eNegated = EigenProjection.Project(negated, channels, 300);

        AssertClose(e, eNegated, 1e-12);
        Assert.True(e.Max() >= Math.Abs(e.Min()));
    }

    [Theory]
    [InlineData(5, 30, true)]
    [InlineData(5, 30, false)]
    [InlineData(100, 30, true)]
    [InlineData(1, 1, false)]
    public void All_zero_activations_give_zeros(int channels, int positions, bool center)
    {
        var e = EigenProjection.Project(new float[channels * positions], channels, positions, center);

        Assert.Equal(positions, e.Length);
        Assert.All(e, x => Assert.Equal(0.0, x));
    }

    [Fact]
    public void Channels_that_are_constant_over_positions_give_zeros_when_centred()
    {
        var activations = new float[3 * 10];
        for (var i = 0; i < activations.Length; i++)
        {
            activations[i] = i / 10 + 1.5f;
        }

        Assert.All(EigenProjection.Project(activations, 3, 10), x => Assert.Equal(0.0, x));
    }

    [Theory]
    [InlineData(6)]
    [InlineData(90)]
    public void Nan_activations_are_read_as_zero(int channels)
    {
        var withNan = NoiseMatrix(channels, 200, 4242);
        var withZero = (float[])withNan.Clone();
        foreach (var index in new[] { 0, 7, 199, 200, 555, withNan.Length - 1 })
        {
            withNan[index] = float.NaN;
            withZero[index] = 0;
        }

        var e = EigenProjection.Project(withNan, channels, 200);

        Assert.All(e, x => Assert.False(double.IsNaN(x)));
        Assert.Equal(EigenProjection.Project(withZero, channels, 200), e);
    }

    [Fact]
    public void A_single_channel_projects_to_its_centred_values()
    {
        float[] activations = [1, 4, -2, 0.5f, 3];
        var mean = activations.Average(x => (double)x);

        var e = EigenProjection.Project(activations, 1, activations.Length);

        // Centred values -0.3, 2.7, -3.3, -0.8, 1.7: the largest magnitude is negative, so the sign rule flips them.
        AssertClose([.. activations.Select(x => mean - x)], e, 1e-14);
    }

    [Fact]
    public void A_single_position_gives_zero_when_centred_and_the_vector_norm_otherwise()
    {
        float[] activations = [3, -4, 0, 12];

        Assert.Equal([0.0], EigenProjection.Project(activations, 4, 1));
        var raw = EigenProjection.Project(activations, 4, 1, center: false);
        Assert.Equal(13.0, raw[0], 12);
    }

    [Theory]
    [InlineData(64, 300, 31337)]
    [InlineData(64, 40, 8)]
    public void Tridiagonal_solver_agrees_with_jacobi_solver_on_64_channels(int channels, int positions, ulong seed)
    {
        // The second case has rank 39 after centring, so 25 eigenvalues are (numerically) zero.
        var gram = EigenProjection.Gram(NoiseMatrix(channels, positions, seed), channels, positions, ChannelMeans(NoiseMatrix(channels, positions, seed), channels, positions));

        var jacobi = EigenProjection.TopEigenvectorJacobi(gram, channels);
        var tridiagonal = EigenProjection.TopEigenvectorTridiagonal(gram, channels);

        var sign = Math.Sign(Dot(jacobi, tridiagonal));
        AssertClose(jacobi, [.. tridiagonal.Select(x => sign * x)], 1e-11);
        Assert.Equal(1.0, Dot(jacobi, jacobi), 12);
        Assert.Equal(1.0, Dot(tridiagonal, tridiagonal), 12);
    }

    [Theory]
    [InlineData(40, false)]
    [InlineData(40, true)]
    [InlineData(70, false)]
    public void Dead_channels_do_not_change_the_projection(int liveChannels, bool deadFirst)
    {
        // Doubling the channels with all-zero ones moves 40 live channels from the Jacobi solver to the
        // tridiagonal one; the zero rows of the Gram matrix exercise the Householder steps that have nothing to do.
        const int positions = 150;
        var live = NoisyTrendMatrix(liveChannels, positions, 555);
        var padded = new float[2 * liveChannels * positions];
        for (var k = 0; k < liveChannels; k++)
        {
            var target = deadFirst ? liveChannels + k : 2 * k;
            live.AsSpan(k * positions, positions).CopyTo(padded.AsSpan(target * positions, positions));
        }

        var e = EigenProjection.Project(padded, 2 * liveChannels, positions);

        AssertClose(EigenProjection.Project(live, liveChannels, positions), e, 1e-12);
    }

    [Theory]
    [InlineData(7, 50)]
    [InlineData(101, 4000)]
    public void Gram_matrix_matches_a_plain_double_sum(int channels, int positions)
    {
        // 101 x 4000 is large enough for the multi-threaded path, and odd, so the last row has no partner.
        var activations = NoiseMatrix(channels, positions, 77);
        activations[3] = float.NaN;
        var means = new double[channels];
        for (var k = 0; k < channels; k++)
        {
            means[k] = 0.25 * k;
        }

        var gram = EigenProjection.Gram(activations, channels, positions, means);

        double largest = 0;
        var expected = new double[channels * channels];
        for (var i = 0; i < channels; i++)
        {
            for (var j = 0; j < channels; j++)
            {
                double sum = 0;
                for (var p = 0; p < positions; p++)
                {
                    var a = activations[i * positions + p];
                    var b = activations[j * positions + p];
                    sum += ((float.IsNaN(a) ? 0 : a) - means[i]) * ((float.IsNaN(b) ? 0 : b) - means[j]);
                }

                expected[i * channels + j] = sum;
                largest = Math.Max(largest, Math.Abs(sum));
            }
        }

        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - gram[i]) <= 1e-12 * largest, $"entry {i}: expected {expected[i]:R}, got {gram[i]:R}");
        }
    }

    [Fact]
    public void Tridiagonal_solver_finds_the_top_eigenvector_of_a_known_matrix()
    {
        // Diagonal matrix with its largest entry in the middle, rotated by a Householder reflection Q = I - 2 q qᵀ:
        // the top eigenvector is Q e_40.
        const int n = 80;
        var q = new double[n];
        for (var i = 0; i < n; i++)
        {
            q[i] = Math.Cos(0.9 * i + 0.4);
        }

        var norm = Math.Sqrt(Dot(q, q));
        for (var i = 0; i < n; i++)
        {
            q[i] /= norm;
        }

        var matrix = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                double sum = 0;
                for (var k = 0; k < n; k++)
                {
                    var eigenvalue = k == 40 ? 10.0 : k % 7 * 0.5;
                    sum += ((i == k ? 1 : 0) - 2 * q[i] * q[k]) * eigenvalue * ((j == k ? 1 : 0) - 2 * q[j] * q[k]);
                }

                matrix[i * n + j] = sum;
            }
        }

        var vector = EigenProjection.TopEigenvectorTridiagonal(matrix, n);

        var expected = new double[n];
        for (var i = 0; i < n; i++)
        {
            expected[i] = (i == 40 ? 1 : 0) - 2 * q[i] * q[40];
        }

        var sign = Math.Sign(Dot(expected, vector));
        AssertClose(expected, [.. vector.Select(x => sign * x)], 1e-12);
    }

    [Fact]
    public void Project_rejects_inconsistent_sizes_and_infinite_values()
    {
        Assert.Throws<ArgumentException>(() => EigenProjection.Project(new float[11], 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => EigenProjection.Project([], 0, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => EigenProjection.Project([], 3, 0));
        var infinite = new float[12];
        infinite[5] = float.PositiveInfinity;
        Assert.Throws<ArgumentException>(() => EigenProjection.Project(infinite, 3, 4));
    }

    [Fact]
    public void Projection_of_512_channels_by_4096_positions_is_complete_and_finite()
    {
        const int channels = 512;
        const int positions = 4096;
        var activations = NoisyTrendMatrix(channels, positions, 7);
        EigenProjection.Project(NoisyTrendMatrix(64, 256, 1), 64, 256);
        EigenProjection.Project(NoisyTrendMatrix(100, 256, 1), 100, 256);

        var e = EigenProjection.Project(activations, channels, positions);
        Assert.Equal(positions, e.Length);
        Assert.All(e, x => Assert.True(double.IsFinite(x)));
    }

    private sealed record Reference(double First, double Seventeenth, double Last, double Max, double Min, int ArgMax, int ArgMin);

    private static void AssertMatchesReference(double[] e, Reference reference)
    {
        var tolerance = Tolerance * Math.Max(Math.Abs(reference.Max), Math.Abs(reference.Min));
        Assert.Equal(reference.First, e[0], tolerance);
        Assert.Equal(reference.Seventeenth, e[17], tolerance);
        Assert.Equal(reference.Last, e[^1], tolerance);
        Assert.Equal(reference.Max, e.Max(), tolerance);
        Assert.Equal(reference.Min, e.Min(), tolerance);
        Assert.Equal(reference.ArgMax, Array.IndexOf(e, e.Max()));
        Assert.Equal(reference.ArgMin, Array.IndexOf(e, e.Min()));
    }

    private static void AssertClose(double[] expected, double[] actual, double relativeTolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        var tolerance = relativeTolerance * Math.Max(expected.Max(x => Math.Abs(x)), double.Epsilon);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"index {i}: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }

    /// <summary>A[k, p] = sin(0.37 k p + 0.11 k) + 0.05 k, as float32 (sinmat).</summary>
    private static float[] SineMatrix(int channels, int positions)
    {
        var a = new float[channels * positions];
        for (var k = 0; k < channels; k++)
        {
            for (var p = 0; p < positions; p++)
            {
                a[k * positions + p] = (float)(Math.Sin(0.37 * k * p + 0.11 * k) + 0.05 * k);
            }
        }

        return a;
    }

    /// <summary>Uniform values in [-1, 1) from a 64-bit LCG in C order, as float32 (noise).</summary>
    private static float[] NoiseMatrix(int channels, int positions, ulong seed)
    {
        var a = new float[channels * positions];
        var state = seed;
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = (float)(2 * NextUniform(ref state) - 1);
        }

        return a;
    }

    /// <summary>LCG noise plus the smooth rank-one trend 1.5 cos(0.05 p) cos(0.3 k + 0.2), as float32 (noisy).</summary>
    private static float[] NoisyTrendMatrix(int channels, int positions, ulong seed)
    {
        var a = new float[channels * positions];
        var state = seed;
        for (var k = 0; k < channels; k++)
        {
            for (var p = 0; p < positions; p++)
            {
                var noise = 2 * NextUniform(ref state) - 1;
                a[k * positions + p] = (float)(noise + 1.5 * Math.Cos(0.05 * p) * Math.Cos(0.3 * k + 0.2));
            }
        }

        return a;
    }

    private static double NextUniform(ref ulong state)
    {
        state = unchecked(state * 6364136223846793005UL + 1442695040888963407UL);
        return (state >> 11) / 9007199254740992.0;
    }

    /// <summary>The [K, P] activations w uᵀ (channel k, position p holds w[k] u[p]).</summary>
    private static float[] Outer(double[] w, double[] u)
    {
        var a = new float[w.Length * u.Length];
        for (var k = 0; k < w.Length; k++)
        {
            for (var p = 0; p < u.Length; p++)
            {
                a[k * u.Length + p] = (float)(w[k] * u[p]);
            }
        }

        return a;
    }

    private static double[] CentredTimesNorm(double[] u, double[] w)
    {
        var mean = u.Average();
        var norm = Math.Sqrt(Dot(w, w));
        return [.. u.Select(x => (x - mean) * norm)];
    }

    private static double[] ChannelMeans(float[] activations, int channels, int positions)
    {
        var means = new double[channels];
        for (var k = 0; k < channels; k++)
        {
            means[k] = activations.AsSpan(k * positions, positions).ToArray().Average(x => (double)x);
        }

        return means;
    }

    private static double Dot(double[] x, double[] y)
    {
        double sum = 0;
        for (var i = 0; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }

        return sum;
    }
}
