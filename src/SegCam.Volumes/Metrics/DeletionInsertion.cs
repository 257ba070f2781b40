using System.Globalization;
using System.Numerics;
using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Metrics;

/// <summary>
/// Deletion and insertion curves (Petsiuk et al. 2018, "RISE"; eclique/RISE <c>evaluation.py</c> <c>CausalMetric</c>;
/// docs/METHODS.md §4.4). Voxels are ranked by heatmap value, highest first, ties by ascending flat index. Deletion
/// starts from the intact input and removes the top-ranked voxels step by step; insertion starts with every voxel
/// removed and restores the top-ranked voxels first. A <see cref="PerturbedScore"/> callback scores each state; what
/// "removed" means (a constant baseline, a blur) and which score is used are the caller's choice.
/// </summary>
/// <remarks>
/// The callback runs n + 1 times (<see cref="PerturbationCurveOptions"/>), each time on one reused mask that is
/// updated in place (O(|Ω|) in all). The token is checked before every call. Scores are kept as returned: the curve is
/// not divided by its first point or otherwise normalised. Throws
/// <see cref="InvalidRequestException"/> for an empty heatmap, a NaN or infinite heatmap value (naming its index),
/// invalid options, or a callback that returns NaN or an infinity.
/// </remarks>
public static class DeletionInsertion
{
    /// <summary>The deletion curve of a flat heatmap: point i scores the input with the top-ranked voxels of step i removed.</summary>
    /// <param name="heatmap">One value per voxel, in the flat order <paramref name="score"/> receives.</param>
    /// <param name="score">Scores the input with the marked voxels replaced by the baseline.</param>
    /// <param name="options">The step schedule; null for <see cref="PerturbationCurveOptions.DefaultSteps"/> equal steps.</param>
    /// <param name="cancellationToken">Checked before each step.</param>
    public static PerturbationCurve Deletion(ReadOnlySpan<float> heatmap, PerturbedScore score, PerturbationCurveOptions? options = null, CancellationToken cancellationToken = default)
        => Run(Copy(heatmap), insertion: false, score, options, null, cancellationToken);

    /// <inheritdoc cref="Deletion(ReadOnlySpan{float}, PerturbedScore, PerturbationCurveOptions?, CancellationToken)"/>
    public static PerturbationCurve Deletion(ReadOnlySpan<double> heatmap, PerturbedScore score, PerturbationCurveOptions? options = null, CancellationToken cancellationToken = default)
        => Run(Copy(heatmap), insertion: false, score, options, null, cancellationToken);

    /// <summary>
    /// The deletion curve of a heatmap volume; <paramref name="score"/> receives a flat mask in the volume's voxel order
    /// (i fastest, then j, then k; slice k starts at k·I·J).
    /// </summary>
    /// <inheritdoc cref="Deletion(ReadOnlySpan{float}, PerturbedScore, PerturbationCurveOptions?, CancellationToken)"/>
    public static PerturbationCurve Deletion(Volume heatmap, PerturbedScore score, PerturbationCurveOptions? options = null, CancellationToken cancellationToken = default)
        => RunVolume(heatmap, insertion: false, score, options, cancellationToken);

    /// <summary>
    /// The insertion curve of a flat heatmap: point 0 scores the input with every voxel removed, point i with the
    /// top-ranked voxels of step i restored.
    /// </summary>
    /// <inheritdoc cref="Deletion(ReadOnlySpan{float}, PerturbedScore, PerturbationCurveOptions?, CancellationToken)"/>
    public static PerturbationCurve Insertion(ReadOnlySpan<float> heatmap, PerturbedScore score, PerturbationCurveOptions? options = null, CancellationToken cancellationToken = default)
        => Run(Copy(heatmap), insertion: true, score, options, null, cancellationToken);

    /// <inheritdoc cref="Insertion(ReadOnlySpan{float}, PerturbedScore, PerturbationCurveOptions?, CancellationToken)"/>
    public static PerturbationCurve Insertion(ReadOnlySpan<double> heatmap, PerturbedScore score, PerturbationCurveOptions? options = null, CancellationToken cancellationToken = default)
        => Run(Copy(heatmap), insertion: true, score, options, null, cancellationToken);

    /// <summary>
    /// The insertion curve of a heatmap volume; <paramref name="score"/> receives a flat mask in the volume's voxel order
    /// (i fastest, then j, then k; slice k starts at k·I·J).
    /// </summary>
    /// <inheritdoc cref="Insertion(ReadOnlySpan{float}, PerturbedScore, PerturbationCurveOptions?, CancellationToken)"/>
    public static PerturbationCurve Insertion(Volume heatmap, PerturbedScore score, PerturbationCurveOptions? options = null, CancellationToken cancellationToken = default)
        => RunVolume(heatmap, insertion: true, score, options, cancellationToken);

    /// <summary>How many ranked voxels point i changes, i = 0…n (see <see cref="PerturbationCurveOptions"/>).</summary>
    internal static long[] Schedule(int voxels, PerturbationCurveOptions options)
    {
        if (options.VoxelsPerStep is int s)
        {
            if (s < 1)
            {
                throw new InvalidRequestException($"voxels per step is {s}; it must be at least 1");
            }

            var n = (int)(((long)voxels + s - 1) / s);
            var counts = new long[n + 1];
            for (var i = 0; i <= n; i++)
            {
                counts[i] = Math.Min((long)i * s, voxels);
            }

            return counts;
        }

        if (options.Steps < 1)
        {
            throw new InvalidRequestException($"the curve has {options.Steps} steps; it needs at least 1");
        }

        var result = new long[options.Steps + 1];
        for (var i = 0; i <= options.Steps; i++)
        {
            result[i] = (((long)i * voxels) + options.Steps - 1) / options.Steps;
        }

        return result;
    }

    private static T[] Copy<T>(ReadOnlySpan<T> heatmap)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        MetricInputs.RequireNotEmpty(heatmap.Length);
        return heatmap.ToArray();
    }

    private static PerturbationCurve RunVolume(Volume heatmap, bool insertion, PerturbedScore score, PerturbationCurveOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(heatmap);
        return heatmap.Type == VoxelType.Float32
            ? RunVolume<float>(heatmap, insertion, score, options, cancellationToken)
            : RunVolume<double>(heatmap, insertion, score, options, cancellationToken);
    }

    private static PerturbationCurve RunVolume<T>(Volume heatmap, bool insertion, PerturbedScore score, PerturbationCurveOptions? options, CancellationToken cancellationToken)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var reader = new VolumeSliceReader<T>(heatmap, null);
        var values = new T[MetricInputs.RequireArraySized(reader.Grid, insertion ? "the insertion curve" : "the deletion curve")];
        for (var k = 0; k < reader.Slices; k++)
        {
            reader.Heatmap(k).CopyTo(values.AsSpan(checked((int)reader.Offset(k))));
        }

        return Run(values, insertion, score, options, reader.Grid, cancellationToken);
    }

    private static PerturbationCurve Run<T>(T[] values, bool insertion, PerturbedScore score, PerturbationCurveOptions? options, GridSize? grid, CancellationToken cancellationToken)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(score);
        options ??= new PerturbationCurveOptions();
        for (var q = 0; q < values.Length; q++)
        {
            MetricInputs.Finite(values[q], q, grid);
        }

        var schedule = Schedule(values.Length, options);
        var order = HeatmapRanking.Rank(values);
        var removed = new bool[values.Length];
        if (insertion)
        {
            removed.AsSpan().Fill(true);
        }

        var n = schedule.Length - 1;
        var points = new PerturbationCurvePoint[n + 1];
        var changed = 0;
        for (var i = 0; i <= n; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (; changed < schedule[i]; changed++)
            {
                removed[order[changed]] = !insertion;
            }

            var y = score(removed);
            if (!double.IsFinite(y))
            {
                throw new InvalidRequestException(
                    $"the score callback returned {y.ToString(CultureInfo.InvariantCulture)} at step {i} of {n} ({schedule[i]} voxels {(insertion ? "restored" : "removed")}); scores must be finite");
            }

            points[i] = new PerturbationCurvePoint((double)i / n, schedule[i], y);
        }

        return new PerturbationCurve(points);
    }
}
