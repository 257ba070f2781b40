using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SegCam.Cam.Methods;

/// <summary>
/// Projection of a feature map onto its first principal component (METHODS.md §2.7, the
/// <c>get_2d_projection</c> step of EigenCAM / EigenGradCAM).
/// </summary>
/// <remarks>
/// <para>
/// The activations of one batch item form the position x channel matrix X (P x K). Instead of an SVD of X,
/// the K x K Gram matrix G = XᵀX is accumulated in double precision (a P x P matrix is never formed), its
/// eigenvector v for the largest eigenvalue is the first right singular vector of X, and e = X·v.
/// </para>
/// <para>
/// Eigen solvers. For K ≤ <see cref="JacobiMaxChannels"/> a cyclic Jacobi decomposition of G is used: it is
/// simple and accurate to working precision, and at that size costs a few milliseconds at most. For larger K the
/// top eigenvector is found by Householder reduction of G to tridiagonal form T, bisection on Sturm counts for
/// the largest eigenvalue of T, inverse iteration on T with a shift just above that eigenvalue, and
/// back-transformation through the Householder reflectors. This was chosen over block subspace iteration: the
/// reduction costs a fixed K³ multiply-adds or so (about 20 ms at K = 512 on one core) whatever the spectrum,
/// whereas subspace iteration needs many more sweeps when the leading eigenvalues are close together, as they
/// are for noise-like centred activations, and then costs more than the reduction. Every step is backward stable, so the eigenvector is as
/// accurate as the Jacobi one (an error of about machine epsilon times λ₁ / (λ₁ − λ₂)). With the shift σ above
/// λ₁ the matrix σI − T is positive definite, so its LDLᵀ factorisation needs no pivoting.
/// </para>
/// </remarks>
public static class EigenProjection
{
    /// <summary>Largest channel count handled by the Jacobi solver; larger ones use the tridiagonal solver.</summary>
    internal const int JacobiMaxChannels = 64;

    private const double Epsilon = 2.220446049250313e-16;

    // Vector.FusedMultiplyAdd is emulated element by element (slowly) where the instruction is missing. Every
    // term is a JIT-time constant, also in the methods compiled with AggressiveOptimization.
    private static bool HasFusedMultiplyAdd =>
        Vector.IsHardwareAccelerated && (System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported);

    /// <summary>
    /// Projects one batch item's activations onto their first principal direction.
    /// </summary>
    /// <param name="activations">One batch item, laid out [K, P] (channel-major, C order: element (k, p) at k*P + p).</param>
    /// <param name="channels">K, the number of channels (at least 1).</param>
    /// <param name="positions">P, the number of spatial positions (at least 1).</param>
    /// <param name="center">Whether to subtract each channel's mean over positions first.</param>
    /// <returns>
    /// e (length P): X·v, where X is the (centred) P x K matrix with row p = activations[:, p] (NaN read as 0) and v
    /// its first right singular vector; if |min e| &gt; |max e| the result is negated. All zeros when X is zero.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> or <paramref name="positions"/> is below 1.</exception>
    /// <exception cref="ArgumentException">The span length is not K*P, or the activations contain an infinity.</exception>
    public static double[] Project(ReadOnlySpan<float> activations, int channels, int positions, bool center = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(positions, 1);
        if ((long)channels * positions != activations.Length)
        {
            throw new ArgumentException(
                $"Expected {(long)channels * positions} activations for {channels} channels x {positions} positions, got {activations.Length}.",
                nameof(activations));
        }

        var means = new double[channels];
        if (center)
        {
            for (var k = 0; k < channels; k++)
            {
                var row = activations.Slice(k * positions, positions);
                double sum = 0;
                foreach (var x in row)
                {
                    if (!float.IsNaN(x))
                    {
                        sum += x;
                    }
                }

                means[k] = sum / positions;
            }
        }

        var gram = Gram(activations, channels, positions, means);
        var projection = new double[positions];
        double trace = 0;
        foreach (var g in gram)
        {
            if (!double.IsFinite(g))
            {
                throw new ArgumentException("The activations contain an infinite value.", nameof(activations));
            }
        }

        for (var k = 0; k < channels; k++)
        {
            trace += gram[k * channels + k];
        }

        if (!(trace > 0))
        {
            return projection;
        }

        var v = TopEigenvector(gram, channels);
        for (var k = 0; k < channels; k++)
        {
            var vk = v[k];
            if (vk == 0)
            {
                continue;
            }

            var mk = means[k];
            var row = activations.Slice(k * positions, positions);
            for (var p = 0; p < row.Length; p++)
            {
                var x = row[p];
                var value = float.IsNaN(x) ? 0.0 : x;
                projection[p] += vk * (value - mk);
            }
        }

        var max = double.NegativeInfinity;
        var min = double.PositiveInfinity;
        foreach (var value in projection)
        {
            max = Math.Max(max, value);
            min = Math.Min(min, value);
        }

        if (Math.Abs(min) > Math.Abs(max))
        {
            for (var p = 0; p < projection.Length; p++)
            {
                projection[p] = -projection[p];
            }
        }

        return projection;
    }

    /// <summary>
    /// The K x K matrix XᵀX (full, row-major) of the centred activations, NaN read as 0, accumulated in double.
    /// </summary>
    /// <remarks>
    /// Positions are processed in blocks: each block is copied, centred and widened to double into a K x B buffer
    /// that fits in cache, then every channel pair (i ≤ j) adds the dot product of its two buffer rows. Pairs of
    /// rows of the upper triangle are independent, so large problems spread them over threads; each entry is still
    /// summed in a fixed order, so the result does not depend on the thread count.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static double[] Gram(ReadOnlySpan<float> activations, int channels, int positions, double[] means)
    {
        var width = Vector<double>.Count;
        var block = Math.Clamp(65536 / channels, 64, 1024);
        block = Math.Min(block, positions);
        block = (block + width - 1) / width * width;
        var buffer = new double[channels * block];
        var gram = new double[channels * channels];
        var pairs = (channels + 1) / 2;
        var parallel = channels >= 32 && Environment.ProcessorCount > 1 && (double)channels * channels * positions >= 1 << 25;

        for (var start = 0; start < positions; start += block)
        {
            var count = Math.Min(block, positions - start);
            var padded = (count + width - 1) / width * width;
            for (var k = 0; k < channels; k++)
            {
                var source = activations.Slice(k * positions + start, count);
                var target = buffer.AsSpan(k * block, padded);
                var mean = means[k];
                for (var j = 0; j < count; j++)
                {
                    var x = source[j];
                    target[j] = (float.IsNaN(x) ? 0.0 : x) - mean;
                }

                target[count..].Clear();
            }

            if (parallel)
            {
                Parallel.For(0, pairs, pair => AccumulateRowPair(buffer, block, padded, gram, channels, pair));
            }
            else
            {
                for (var pair = 0; pair < pairs; pair++)
                {
                    AccumulateRowPair(buffer, block, padded, gram, channels, pair);
                }
            }
        }

        for (var i = 0; i < channels; i++)
        {
            for (var j = 0; j < i; j++)
            {
                gram[i * channels + j] = gram[j * channels + i];
            }
        }

        return gram;
    }

    /// <summary>
    /// Adds the dot products of buffer rows i = 2 <paramref name="pair"/> and i + 1 with rows i..K-1 to rows i and
    /// i + 1 of the Gram matrix. Tiles of 2 x 4 rows keep eight independent accumulators, so each loaded vector is
    /// used for two or four multiply-adds. The (i + 1, i) entry lands below the diagonal, where the final
    /// symmetrisation overwrites it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateRowPair(double[] buffer, int stride, int length, double[] gram, int channels, int pair)
    {
        var i = 2 * pair;
        if (i + 1 == channels)
        {
            AccumulateRow(buffer, stride, length, gram, channels, i);
            return;
        }

        var x0 = Row(buffer, i, stride, length);
        var x1 = Row(buffer, i + 1, stride, length);
        var g0 = gram.AsSpan(i * channels, channels);
        var g1 = gram.AsSpan((i + 1) * channels, channels);
        var j = i;
        for (; j + 3 < channels; j += 4)
        {
            var y0 = Row(buffer, j, stride, length);
            var y1 = Row(buffer, j + 1, stride, length);
            var y2 = Row(buffer, j + 2, stride, length);
            var y3 = Row(buffer, j + 3, stride, length);
            Vector<double> s00 = default, s01 = default, s02 = default, s03 = default;
            Vector<double> s10 = default, s11 = default, s12 = default, s13 = default;
            for (var t = 0; t < x0.Length; t++)
            {
                var a0 = x0[t];
                var a1 = x1[t];
                var b = y0[t];
                s00 = MulAdd(a0, b, s00);
                s10 = MulAdd(a1, b, s10);
                b = y1[t];
                s01 = MulAdd(a0, b, s01);
                s11 = MulAdd(a1, b, s11);
                b = y2[t];
                s02 = MulAdd(a0, b, s02);
                s12 = MulAdd(a1, b, s12);
                b = y3[t];
                s03 = MulAdd(a0, b, s03);
                s13 = MulAdd(a1, b, s13);
            }

            g0[j] += Vector.Sum(s00);
            g0[j + 1] += Vector.Sum(s01);
            g0[j + 2] += Vector.Sum(s02);
            g0[j + 3] += Vector.Sum(s03);
            g1[j] += Vector.Sum(s10);
            g1[j + 1] += Vector.Sum(s11);
            g1[j + 2] += Vector.Sum(s12);
            g1[j + 3] += Vector.Sum(s13);
        }

        for (; j < channels; j++)
        {
            var y = Row(buffer, j, stride, length);
            Vector<double> s0 = default, s1 = default;
            for (var t = 0; t < x0.Length; t++)
            {
                s0 = MulAdd(x0[t], y[t], s0);
                s1 = MulAdd(x1[t], y[t], s1);
            }

            g0[j] += Vector.Sum(s0);
            g1[j] += Vector.Sum(s1);
        }
    }

    /// <summary>Adds the dot products of buffer row <paramref name="i"/> with rows i..K-1 to row i of the Gram matrix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateRow(double[] buffer, int stride, int length, double[] gram, int channels, int i)
    {
        var x = Row(buffer, i, stride, length);
        var gramRow = gram.AsSpan(i * channels, channels);
        for (var j = i; j < channels; j++)
        {
            var y = Row(buffer, j, stride, length);
            var s = Vector<double>.Zero;
            for (var t = 0; t < x.Length; t++)
            {
                s = MulAdd(x[t], y[t], s);
            }

            gramRow[j] += Vector.Sum(s);
        }
    }

    /// <summary>a * b + c, fused where the hardware has a fused multiply-add (a JIT-time constant branch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> MulAdd(Vector<double> a, Vector<double> b, Vector<double> c) =>
        HasFusedMultiplyAdd ? Vector.FusedMultiplyAdd(a, b, c) : a * b + c;

    private static ReadOnlySpan<Vector<double>> Row(double[] buffer, int row, int stride, int length) =>
        MemoryMarshal.Cast<double, Vector<double>>(buffer.AsSpan(row * stride, length));

    /// <summary>Unit eigenvector for the largest eigenvalue of the symmetric n x n row-major matrix, by the solver chosen for n.</summary>
    internal static double[] TopEigenvector(ReadOnlySpan<double> matrix, int n) =>
        n <= JacobiMaxChannels ? TopEigenvectorJacobi(matrix, n) : TopEigenvectorTridiagonal(matrix, n);

    /// <summary>Unit eigenvector for the largest eigenvalue of a symmetric matrix, by cyclic Jacobi rotations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static double[] TopEigenvectorJacobi(ReadOnlySpan<double> matrix, int n)
    {
        var a = matrix[..(n * n)].ToArray();
        var v = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            v[i * n + i] = 1;
        }

        double total = 0;
        foreach (var x in a)
        {
            total += x * x;
        }

        for (var sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (var p = 0; p < n; p++)
            {
                for (var q = p + 1; q < n; q++)
                {
                    off += a[p * n + q] * a[p * n + q];
                }
            }

            // Off-diagonal mass at the rounding level of the whole matrix: the diagonal holds the eigenvalues.
            if (off <= 1e-34 * total)
            {
                break;
            }

            for (var p = 0; p < n - 1; p++)
            {
                for (var q = p + 1; q < n; q++)
                {
                    var apq = a[p * n + q];
                    if (apq == 0)
                    {
                        continue;
                    }

                    var app = a[p * n + p];
                    var aqq = a[q * n + q];
                    if (sweep > 3 && Math.Abs(apq) <= Epsilon * 1e-3 * Math.Min(Math.Abs(app), Math.Abs(aqq)))
                    {
                        // Negligible against both diagonal entries: rotating would not change them.
                        a[p * n + q] = 0;
                        a[q * n + p] = 0;
                        continue;
                    }

                    // Rotation angle that zeroes a[p, q]; t = tan(angle), the smaller root for stability.
                    var theta = (aqq - app) / (2 * apq);
                    var t = Math.Abs(theta) > 1e150
                        ? 0.5 / theta
                        : Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    var c = 1 / Math.Sqrt(t * t + 1);
                    var s = t * c;

                    a[p * n + p] = app - t * apq;
                    a[q * n + q] = aqq + t * apq;
                    a[p * n + q] = 0;
                    a[q * n + p] = 0;
                    for (var r = 0; r < n; r++)
                    {
                        if (r != p && r != q)
                        {
                            var arp = a[r * n + p];
                            var arq = a[r * n + q];
                            var newRp = c * arp - s * arq;
                            var newRq = s * arp + c * arq;
                            a[r * n + p] = newRp;
                            a[p * n + r] = newRp;
                            a[r * n + q] = newRq;
                            a[q * n + r] = newRq;
                        }

                        var vrp = v[r * n + p];
                        var vrq = v[r * n + q];
                        v[r * n + p] = c * vrp - s * vrq;
                        v[r * n + q] = s * vrp + c * vrq;
                    }
                }
            }
        }

        var best = 0;
        for (var i = 1; i < n; i++)
        {
            if (a[i * n + i] > a[best * n + best])
            {
                best = i;
            }
        }

        var vector = new double[n];
        for (var r = 0; r < n; r++)
        {
            vector[r] = v[r * n + best];
        }

        Normalize(vector);
        return vector;
    }

    /// <summary>
    /// Unit eigenvector for the largest eigenvalue of a symmetric matrix, by Householder tridiagonalisation,
    /// bisection and inverse iteration (see the class remarks).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static double[] TopEigenvectorTridiagonal(ReadOnlySpan<double> matrix, int n)
    {
        var a = matrix[..(n * n)].ToArray();
        var diagonal = new double[n];
        var offDiagonal = new double[Math.Max(n - 1, 0)];
        var betas = new double[n];

        // Step k reflects entries k+1..n-1 of row (= column) k onto entry k+1 and applies the reflector H_k to
        // the trailing block from both sides. Row k is not needed afterwards, so its part right of the diagonal
        // keeps the reflector vector u (H_k = I - beta_k u uᵀ).
        var p = new double[n];
        var w = new double[n];
        for (var k = 0; k < n - 2; k++)
        {
            var m = n - k - 1;
            var x = a.AsSpan(k * n + k + 1, m);
            diagonal[k] = a[k * n + k];
            var norm = Math.Sqrt(Dot(x, x));
            if (norm == 0)
            {
                offDiagonal[k] = 0;
                betas[k] = 0;
                continue;
            }

            var alpha = x[0] > 0 ? -norm : norm;
            var uu = 2 * norm * (norm + Math.Abs(x[0]));
            x[0] -= alpha;
            var beta = 2 / uu;
            offDiagonal[k] = alpha;
            betas[k] = beta;

            ReadOnlySpan<double> u = x;
            var pk = p.AsSpan(0, m);
            for (var i = 0; i < m; i++)
            {
                pk[i] = beta * Dot(a.AsSpan((k + 1 + i) * n + k + 1, m), u);
            }

            var half = 0.5 * beta * Dot(u, pk);
            var wk = w.AsSpan(0, m);
            for (var i = 0; i < m; i++)
            {
                wk[i] = pk[i] - half * u[i];
            }

            for (var i = 0; i < m; i++)
            {
                SubtractRankTwo(a.AsSpan((k + 1 + i) * n + k + 1, m), u[i], wk, wk[i], u);
            }
        }

        if (n >= 2)
        {
            diagonal[n - 2] = a[(n - 2) * n + n - 2];
            offDiagonal[n - 2] = a[(n - 2) * n + n - 1];
        }

        diagonal[n - 1] = a[(n - 1) * n + n - 1];

        var y = TridiagonalTopEigenvector(diagonal, offDiagonal);

        // Back-transform: the eigenvector of the input is H_0 H_1 ... H_{n-3} y.
        for (var k = n - 3; k >= 0; k--)
        {
            if (betas[k] == 0)
            {
                continue;
            }

            var u = a.AsSpan(k * n + k + 1, n - k - 1);
            var tail = y.AsSpan(k + 1);
            var factor = betas[k] * Dot(u, tail);
            for (var i = 0; i < tail.Length; i++)
            {
                tail[i] -= factor * u[i];
            }
        }

        Normalize(y);
        return y;
    }

    /// <summary>Unit eigenvector for the largest eigenvalue of the symmetric tridiagonal matrix (d, e).</summary>
    private static double[] TridiagonalTopEigenvector(double[] d, double[] e)
    {
        var n = d.Length;
        var magnitude = 0.0;
        foreach (var value in d)
        {
            magnitude = Math.Max(magnitude, Math.Abs(value));
        }

        foreach (var value in e)
        {
            magnitude = Math.Max(magnitude, Math.Abs(value));
        }

        var y = new double[n];
        if (magnitude == 0)
        {
            y[0] = 1;
            return y;
        }

        // Work on T / magnitude so that the shifted solves below stay far from overflow and underflow.
        d = Array.ConvertAll(d, value => value / magnitude);
        e = Array.ConvertAll(e, value => value / magnitude);
        double lo = double.PositiveInfinity;
        double hi = double.NegativeInfinity;
        double maxOffSquare = 0;
        for (var i = 0; i < n; i++)
        {
            var radius = (i > 0 ? Math.Abs(e[i - 1]) : 0) + (i < n - 1 ? Math.Abs(e[i]) : 0);
            lo = Math.Min(lo, d[i] - radius);
            hi = Math.Max(hi, d[i] + radius);
            if (i < n - 1)
            {
                maxOffSquare = Math.Max(maxOffSquare, e[i] * e[i]);
            }
        }

        var scale = Math.Max(Math.Abs(lo), Math.Abs(hi));
        var pivotFloor = 1e-300 * Math.Max(1, maxOffSquare);
        var margin = 4 * Epsilon * scale + pivotFloor;
        lo -= margin;
        hi += margin;

        // Bisection on the Sturm count: invariant λ_max ≥ lo and every eigenvalue < hi.
        for (var iteration = 0; iteration < 200; iteration++)
        {
            if (hi - lo <= 2 * Epsilon * Math.Max(Math.Abs(lo), Math.Abs(hi)) + pivotFloor)
            {
                break;
            }

            var mid = 0.5 * (lo + hi);
            if (mid <= lo || mid >= hi)
            {
                break;
            }

            if (CountBelow(d, e, mid, pivotFloor) == n)
            {
                hi = mid;
            }
            else
            {
                lo = mid;
            }
        }

        // Inverse iteration with σ just above λ_max: σI - T is positive definite and nearly singular along
        // the wanted eigenvector, which each solve amplifies by about (λ₁ - λ₂) / (σ - λ₁).
        var sigma = hi + 2 * Epsilon * scale + pivotFloor;
        var floor = Epsilon * scale;
        var pivots = new double[n];
        var multipliers = new double[n];
        pivots[0] = Math.Max(sigma - d[0], floor);
        for (var i = 1; i < n; i++)
        {
            multipliers[i] = -e[i - 1] / pivots[i - 1];
            pivots[i] = Math.Max(sigma - d[i] + multipliers[i] * e[i - 1], floor);
        }

        for (var i = 0; i < n; i++)
        {
            // An irregular start, so that it is not orthogonal to the wanted vector by symmetry.
            y[i] = 1 + 0.5 * Math.Sin(1.7 * i + 0.3);
        }

        for (var iteration = 0; iteration < 3; iteration++)
        {
            for (var i = 1; i < n; i++)
            {
                y[i] -= multipliers[i] * y[i - 1];
            }

            for (var i = 0; i < n; i++)
            {
                y[i] /= pivots[i];
            }

            for (var i = n - 2; i >= 0; i--)
            {
                y[i] -= multipliers[i + 1] * y[i + 1];
            }

            var largest = 0.0;
            foreach (var value in y)
            {
                largest = Math.Max(largest, Math.Abs(value));
            }

            for (var i = 0; i < n; i++)
            {
                y[i] /= largest;
            }
        }

        Normalize(y);
        return y;
    }

    /// <summary>Number of eigenvalues of the tridiagonal matrix (d, e) below <paramref name="x"/> (Sturm sequence).</summary>
    private static int CountBelow(double[] d, double[] e, double x, double pivotFloor)
    {
        var count = 0;
        var q = d[0] - x;
        for (var i = 0; ; i++)
        {
            if (Math.Abs(q) < pivotFloor)
            {
                q = -pivotFloor;
            }

            if (q < 0)
            {
                count++;
            }

            if (i + 1 == d.Length)
            {
                return count;
            }

            q = d[i + 1] - x - e[i] * e[i] / q;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        var width = Vector<double>.Count;
        var vectors = x.Length / width;
        var sum = Vector<double>.Zero;
        var xv = MemoryMarshal.Cast<double, Vector<double>>(x);
        var yv = MemoryMarshal.Cast<double, Vector<double>>(y[..x.Length]);
        for (var i = 0; i < vectors; i++)
        {
            sum = MulAdd(xv[i], yv[i], sum);
        }

        var result = Vector.Sum(sum);
        for (var i = vectors * width; i < x.Length; i++)
        {
            result += x[i] * y[i];
        }

        return result;
    }

    /// <summary>row -= ui * w + wi * u.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SubtractRankTwo(Span<double> row, double ui, ReadOnlySpan<double> w, double wi, ReadOnlySpan<double> u)
    {
        var width = Vector<double>.Count;
        var vectors = row.Length / width;
        var rowV = MemoryMarshal.Cast<double, Vector<double>>(row);
        var wV = MemoryMarshal.Cast<double, Vector<double>>(w[..row.Length]);
        var uV = MemoryMarshal.Cast<double, Vector<double>>(u[..row.Length]);
        var uiV = new Vector<double>(-ui);
        var wiV = new Vector<double>(-wi);
        for (var i = 0; i < vectors; i++)
        {
            rowV[i] = MulAdd(uiV, wV[i], MulAdd(wiV, uV[i], rowV[i]));
        }

        for (var i = vectors * width; i < row.Length; i++)
        {
            row[i] -= ui * w[i] + wi * u[i];
        }
    }

    private static void Normalize(double[] vector)
    {
        double sum = 0;
        foreach (var value in vector)
        {
            sum += value * value;
        }

        var norm = Math.Sqrt(sum);
        if (norm > 0)
        {
            for (var i = 0; i < vector.Length; i++)
            {
                vector[i] /= norm;
            }
        }
    }
}
