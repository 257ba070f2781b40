using System.Globalization;
using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Dicom;

/// <summary>
/// One series chosen from a folder's headers, checked to form a regular 3-D grid and sorted along the slice normal;
/// no pixel data is involved, so every rule here is testable without GDCM.
/// </summary>
/// <remarks>
/// Rules: one SeriesInstanceUID (or the one asked for); single-frame, single-sample MONOCHROME1/2 images; one
/// FrameOfReferenceUID (absent everywhere counts as one); ImageOrientationPatient equal within
/// <see cref="OrientationTolerance"/>; equal Rows, Columns and PixelSpacing; slices sorted by IPP·n along
/// n = row × column; no two slices closer than <see cref="DuplicateTolerance"/>; every step within
/// <see cref="StepTolerance"/> of the median step, which is the k spacing (SliceThickness is not used: it is a
/// reconstruction width, not a distance); every slice on the line through the first along n (no gantry tilt).
/// A single slice gets SliceThickness as its k spacing, or 1 mm without one.
/// </remarks>
internal sealed class DicomSeriesPlan
{
    /// <summary>Largest difference between any two slices' ImageOrientationPatient elements.</summary>
    public const double OrientationTolerance = 1e-4;

    /// <summary>Largest relative deviation of a slice step from the median step (1 %).</summary>
    public const double StepTolerance = 0.01;

    /// <summary>Slices closer than this along the normal (mm) are duplicates.</summary>
    public const double DuplicateTolerance = 1e-3;

    /// <summary>Largest PixelSpacing difference between slices (mm).</summary>
    public const double PixelSpacingTolerance = 1e-4;

    private DicomSeriesPlan(IReadOnlyList<DicomSliceHeader> slices, VolumeGeometry geometry)
    {
        Slices = slices;
        Geometry = geometry;
    }

    /// <summary>The series' slices in k order (ascending IPP·n).</summary>
    public IReadOnlyList<DicomSliceHeader> Slices { get; }

    /// <summary>The grid in LPS: origin = first slice's IPP, directions = (row, column, normal).</summary>
    public VolumeGeometry Geometry { get; }

    /// <summary>
    /// Picks the series to read from <paramref name="headers"/> (all DICOM images found) and checks it:
    /// the series of <paramref name="anchor"/> when a file was named, else <paramref name="seriesInstanceUid"/>
    /// when given, else the folder's only series.
    /// </summary>
    public static DicomSeriesPlan Build(IReadOnlyList<DicomSliceHeader> headers, string? seriesInstanceUid, DicomSliceHeader? anchor, string where)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var series = Choose(headers, seriesInstanceUid, anchor, where);
        CheckPixels(series);
        var first = series[0];
        CheckSameGrid(series);
        var (row, column, normal) = Axes(first);

        var sorted = series
            .Select(s => (Slice: s, Distance: Vector3.Dot(s.Position!.Value, normal)))
            .OrderBy(s => s.Distance)
            .ThenBy(s => s.Slice.Path, StringComparer.Ordinal)
            .ToList();
        var step = SliceStep(sorted, first);
        CheckStack(sorted, normal, first);

        var size = new GridSize(first.Columns, first.Rows, sorted.Count);
        var spacing = new Vector3(first.PixelSpacing![1], first.PixelSpacing[0], step);
        var geometry = new VolumeGeometry(size, spacing, sorted[0].Slice.Position!.Value, new Direction3(row, column, normal));
        return new DicomSeriesPlan(sorted.Select(s => s.Slice).ToList(), geometry);
    }

    private static List<DicomSliceHeader> Choose(IReadOnlyList<DicomSliceHeader> headers, string? seriesInstanceUid, DicomSliceHeader? anchor, string where)
    {
        if (headers.Count == 0)
        {
            throw new VolumeFormatException($"{where}: no DICOM image files found");
        }

        var groups = headers.GroupBy(h => h.SeriesInstanceUid, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        string uid;
        if (anchor is not null)
        {
            uid = anchor.SeriesInstanceUid;
            if (seriesInstanceUid is not null && !string.Equals(seriesInstanceUid, uid, StringComparison.Ordinal))
            {
                throw new VolumeFormatException($"'{anchor.Name}' belongs to series {Describe(uid)}, not to the requested series {seriesInstanceUid}");
            }
        }
        else if (seriesInstanceUid is not null)
        {
            uid = seriesInstanceUid;
            if (!groups.ContainsKey(uid))
            {
                throw new VolumeFormatException($"{where}: series {seriesInstanceUid} not found; the folder holds: {List(groups)}");
            }
        }
        else if (groups.Count == 1)
        {
            uid = groups.Keys.Single();
        }
        else
        {
            throw new VolumeFormatException($"{where} holds {groups.Count} DICOM series; pass the SeriesInstanceUID of one: {List(groups)}");
        }

        return groups[uid];
    }

    private static string List(Dictionary<string, List<DicomSliceHeader>> groups)
        => string.Join("; ", groups.OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
        {
            var description = g.Value.Select(h => h.SeriesDescription).FirstOrDefault(d => d.Length > 0);
            var files = g.Value.Count == 1 ? "1 file" : $"{g.Value.Count} files";
            return description is null ? $"{Describe(g.Key)} ({files})" : $"{Describe(g.Key)} \"{description}\" ({files})";
        }));

    private static string Describe(string uid) => uid.Length == 0 ? "(no SeriesInstanceUID)" : uid;

    private static void CheckPixels(List<DicomSliceHeader> series)
    {
        foreach (var s in series)
        {
            if (s.Problem is not null)
            {
                throw new VolumeFormatException(s.Problem);
            }

            if (s.NumberOfFrames > 1)
            {
                throw new VolumeFormatException($"'{s.Name}' is a multi-frame image ({s.NumberOfFrames} frames, e.g. enhanced CT/MR or RT dose); only series of single-frame slices are supported");
            }

            if (s.SamplesPerPixel != 1 || s.PhotometricInterpretation is not ("MONOCHROME1" or "MONOCHROME2" or ""))
            {
                throw new VolumeFormatException($"'{s.Name}' is a {s.PhotometricInterpretation} image with {s.SamplesPerPixel} samples per pixel; only grey-scale (MONOCHROME1/2) images are supported");
            }

            if (s.HasModalityLutSequence)
            {
                throw new VolumeFormatException($"'{s.Name}' maps its values through a Modality LUT Sequence, which is not supported");
            }

            if (s.Rows < 1 || s.Columns < 1)
            {
                throw new VolumeFormatException($"'{s.Name}' has {s.Rows} rows and {s.Columns} columns");
            }

            if (s.NativePixelBytesAvailable is { } available && available < s.NativePixelBytesNeeded)
            {
                throw new VolumeFormatException($"'{s.Name}': pixel data is missing or truncated ({Math.Max(0, available)} of {s.NativePixelBytesNeeded} bytes)");
            }

            if (s.RescaleSlope == 0 || !double.IsFinite(s.RescaleSlope) || !double.IsFinite(s.RescaleIntercept))
            {
                throw new VolumeFormatException($"'{s.Name}': RescaleSlope {Number(s.RescaleSlope)} / RescaleIntercept {Number(s.RescaleIntercept)} are invalid");
            }

            if (s.Position is null || s.Orientation is null || s.PixelSpacing is null)
            {
                var missing = new[] { ("ImagePositionPatient", s.Position is null), ("ImageOrientationPatient", s.Orientation is null), ("PixelSpacing", s.PixelSpacing is null) }
                    .Where(m => m.Item2).Select(m => m.Item1);
                throw new VolumeFormatException($"'{s.Name}' has no {string.Join(" / ", missing)}: its position in the patient is unknown (not a cross-sectional CT/MR/PET slice?)");
            }

            if (s.Orientation.Count != 6 || s.PixelSpacing.Count != 2 || !s.Position.Value.IsFinite || s.Orientation.Any(v => !double.IsFinite(v))
                || s.PixelSpacing.Any(v => !(v > 0) || !double.IsFinite(v)))
            {
                throw new VolumeFormatException($"'{s.Name}': ImagePositionPatient {s.Position}, ImageOrientationPatient ({Join(s.Orientation)}) or PixelSpacing ({Join(s.PixelSpacing)}) is malformed");
            }
        }
    }

    private static void CheckSameGrid(List<DicomSliceHeader> series)
    {
        var first = series[0];
        var frames = series.Select(s => s.FrameOfReferenceUid).Distinct(StringComparer.Ordinal).ToList();
        if (frames.Count > 1)
        {
            var detail = frames.Select(f => $"{(f.Length == 0 ? "(none)" : f)} ({series.Count(s => s.FrameOfReferenceUid == f)} files, e.g. '{series.First(s => s.FrameOfReferenceUid == f).Name}')");
            throw new VolumeFormatException($"the series mixes {frames.Count} frames of reference (FrameOfReferenceUID): {string.Join("; ", detail)}");
        }

        foreach (var s in series)
        {
            if (s.Rows != first.Rows || s.Columns != first.Columns)
            {
                throw new VolumeFormatException($"slices differ in size: '{first.Name}' has {first.Rows}×{first.Columns} pixels (rows×columns), '{s.Name}' {s.Rows}×{s.Columns}");
            }

            var worst = s.Orientation!.Zip(first.Orientation!, (a, b) => Math.Abs(a - b)).Max();
            if (worst > OrientationTolerance)
            {
                throw new VolumeFormatException($"slices differ in orientation (ImageOrientationPatient): '{first.Name}' ({Join(first.Orientation!)}), '{s.Name}' ({Join(s.Orientation!)})");
            }

            if (Math.Abs(s.PixelSpacing![0] - first.PixelSpacing![0]) > PixelSpacingTolerance || Math.Abs(s.PixelSpacing[1] - first.PixelSpacing[1]) > PixelSpacingTolerance)
            {
                throw new VolumeFormatException($"slices differ in PixelSpacing: '{first.Name}' ({Join(first.PixelSpacing!)}), '{s.Name}' ({Join(s.PixelSpacing)})");
            }
        }
    }

    private static (Vector3 Row, Vector3 Column, Vector3 Normal) Axes(DicomSliceHeader first)
    {
        var o = first.Orientation!;
        var row = new Vector3(o[0], o[1], o[2]);
        var column = new Vector3(o[3], o[4], o[5]);
        if (Math.Abs(row.Length - 1) > 1e-3 || Math.Abs(column.Length - 1) > 1e-3 || Math.Abs(Vector3.Dot(row, column)) > 1e-3)
        {
            throw new VolumeFormatException($"'{first.Name}': ImageOrientationPatient ({Join(o)}) is not two perpendicular unit vectors");
        }

        // Remove the rounding of the stored decimals so the direction matrix is orthonormal to machine precision.
        row = row.Normalized();
        column = (column - (row * Vector3.Dot(row, column))).Normalized();
        return (row, column, Vector3.Cross(row, column).Normalized());
    }

    private static double SliceStep(List<(DicomSliceHeader Slice, double Distance)> sorted, DicomSliceHeader first)
    {
        if (sorted.Count == 1)
        {
            // One slice: no position difference to measure; the nominal thickness is the best guess for its extent.
            return first.SliceThickness is > 0 and var thickness && double.IsFinite(thickness) ? thickness : 1.0;
        }

        var steps = new double[sorted.Count - 1];
        for (var k = 0; k < steps.Length; k++)
        {
            steps[k] = sorted[k + 1].Distance - sorted[k].Distance;
            if (steps[k] < DuplicateTolerance)
            {
                throw new VolumeFormatException(
                    $"'{sorted[k].Slice.Name}' and '{sorted[k + 1].Slice.Name}' lie at the same position ({Number(sorted[k].Distance)} mm along the slice normal; "
                    + $"ImagePositionPatient {sorted[k].Slice.Position}): duplicate slices, or two acquisitions in one series");
            }
        }

        var step = Median(steps);
        var worst = Enumerable.Range(0, steps.Length).MaxBy(k => Math.Abs(steps[k] - step));
        if (Math.Abs(steps[worst] - step) > StepTolerance * step)
        {
            throw new VolumeFormatException(
                $"uneven slice spacing: slices are {Number(step)} mm apart (median), but '{sorted[worst].Slice.Name}' ({Number(sorted[worst].Distance)} mm along the normal) "
                + $"and '{sorted[worst + 1].Slice.Name}' ({Number(sorted[worst + 1].Distance)} mm) are {Number(steps[worst])} mm apart (a missing slice?)");
        }

        return step;
    }

    private static void CheckStack(List<(DicomSliceHeader Slice, double Distance)> sorted, Vector3 normal, DicomSliceHeader first)
    {
        // Every slice must lie on the line through the first slice's corner along the normal; an in-plane offset
        // (gantry tilt, a sheared stack) has no place in an orthogonal grid.
        var tolerance = Math.Max(0.02, 0.05 * first.PixelSpacing!.Min());
        var origin = sorted[0].Slice.Position!.Value;
        foreach (var (slice, distance) in sorted)
        {
            var offset = slice.Position!.Value - origin - (normal * (distance - sorted[0].Distance));
            if (offset.Length > tolerance)
            {
                throw new VolumeFormatException(
                    $"'{slice.Name}' lies {Number(offset.Length)} mm off the stack axis (the normal through the first slice's corner): "
                    + "a gantry tilt or sheared stack is not supported; resample the series first");
            }
        }
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static string Join(IEnumerable<double> values) => string.Join(", ", values.Select(Number));

    private static string Number(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}
