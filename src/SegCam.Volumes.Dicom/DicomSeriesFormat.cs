using SegCam.Common.Errors;
using SegCam.Volumes.Formats;

namespace SegCam.Volumes.Dicom;

/// <summary>
/// Reads a DICOM series (a folder of single-frame CT/MR/PET slices, or one file of such a series) into a volume,
/// through GDCM's C# binding (Debian: apt-get install libgdcm-cil). Reading only; nothing is logged, and error
/// messages name files, UIDs and series descriptions but never patient attributes.
/// </summary>
/// <remarks>
/// <para>
/// Files: every file directly in the folder (any name, no recursion) whose header GDCM can read and that holds an
/// image; other files are ignored. Given a file, its folder is scanned and only the files of the same
/// SeriesInstanceUID are kept. A folder with several series is an error listing their UIDs and descriptions,
/// unless a SeriesInstanceUID is passed to <see cref="Read(string, string?, VolumeLimits, CancellationToken)"/>.
/// </para>
/// <para>
/// Geometry (LPS, DICOM's patient coordinates): i runs along a row (ImageOrientationPatient[0..2], spacing
/// PixelSpacing[1]), j down the columns (ImageOrientationPatient[3..5], spacing PixelSpacing[0]), k along the
/// normal n = row × column; slices are sorted by ImagePositionPatient·n (file names and InstanceNumber play no
/// part), the origin is the first sorted slice's ImagePositionPatient and the k spacing is the median step
/// between positions, not SliceThickness. The slices must share the frame of reference, orientation, size and
/// pixel spacing, be evenly spaced (1 %) without duplicates and lie along n; the checks and tolerances are listed
/// on <see cref="DicomSeriesPlan"/>. A series of one slice is valid: its k spacing is SliceThickness when the
/// file has one, else 1 mm.
/// </para>
/// <para>
/// Values: the stored bits (BitsStored at HighBit, signed when PixelRepresentation is 1; unused high bits are
/// ignored) times RescaleSlope plus RescaleIntercept, slice by slice. The voxel type is Float32 when the rescale
/// differs between slices or makes values non-integral, else Int16 when the rescaled range fits, else Int32.
/// MONOCHROME1 images keep their values as stored (higher = brighter is not imposed; no inversion), like
/// MONOCHROME2. Multi-frame images (enhanced CT/MR, RT dose), colour images, Modality LUT Sequences and tilted or
/// sheared stacks are rejected with a message saying so.
/// </para>
/// </remarks>
public sealed class DicomSeriesFormat : IFolderVolumeFormat
{
    private readonly bool _withoutGdcm;

    /// <summary>The reader; GDCM is loaded on the first read.</summary>
    public DicomSeriesFormat()
    {
    }

    // Tests: behave as a build without GDCM, so that its message is checked where GDCM is installed too.
    internal DicomSeriesFormat(bool withoutGdcm) => _withoutGdcm = withoutGdcm;

    /// <summary>True when GDCM's C# binding and its native glue load (a build without GDCM: false).</summary>
    public static bool IsAvailable => GdcmRuntime.IsAvailable;

    /// <inheritdoc />
    public string Name => "DICOM";

    /// <summary>".dcm"; a folder (of slices) is read too, whatever its name.</summary>
    public IReadOnlyList<string> Extensions { get; } = [".dcm"];

    /// <inheritdoc />
    /// <remarks><paramref name="path"/> is a folder holding one series, or one file of a series.</remarks>
    public Volume Read(string path, VolumeLimits limits, CancellationToken cancellationToken)
        => Read(path, null, limits, cancellationToken);

    /// <summary>
    /// Reads the series <paramref name="seriesInstanceUid"/> (null: the only one) from the folder
    /// <paramref name="path"/>, or the series of the file <paramref name="path"/>.
    /// </summary>
    public Volume Read(string path, string? seriesInstanceUid, VolumeLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(limits);
        if (_withoutGdcm)
        {
            throw new VolumeFormatException(GdcmRuntime.MissingMessage);
        }

        GdcmRuntime.EnsureAvailable();
        return ReadWithGdcm(path, seriesInstanceUid, limits, cancellationToken);
    }

    /// <summary>Always throws: SegCamPlugin writes NIfTI, NRRD or MetaImage, not DICOM.</summary>
    public void Write(Volume volume, string path, CancellationToken cancellationToken)
        => throw new VolumeFormatException($"'{path}': writing DICOM is not supported; write NIfTI (.nii.gz), NRRD or MetaImage instead");

#if SEGCAM_GDCM
    private static Volume ReadWithGdcm(string path, string? seriesInstanceUid, VolumeLimits limits, CancellationToken cancellationToken)
    {
        string folder;
        DicomSliceHeader? anchor = null;
        if (Directory.Exists(path))
        {
            folder = path;
        }
        else if (File.Exists(path))
        {
            folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
            anchor = DicomHeaderScanner.Read(Path.GetFullPath(path))
                     ?? throw new VolumeFormatException($"'{path}' is not a DICOM image file GDCM can read");
        }
        else
        {
            throw new InputFileNotFoundException($"DICOM series '{path}' does not exist");
        }

        var files = Directory.EnumerateFiles(Path.GetFullPath(folder)).Order(StringComparer.Ordinal).ToList();
        var headers = DicomHeaderScanner.Scan(anchor is null ? files : files.Where(f => f != anchor.Path), cancellationToken);
        if (anchor is not null)
        {
            headers = [anchor, .. headers.Where(h => string.Equals(h.SeriesInstanceUid, anchor.SeriesInstanceUid, StringComparison.Ordinal))];
        }

        var where = $"DICOM folder '{folder}'";
        if (headers.Count == 0)
        {
            throw new VolumeFormatException(files.Count == 0
                ? $"{where} is empty"
                : $"{where}: none of its {files.Count} files is a DICOM image (sub-folders are not searched)");
        }

        var plan = DicomSeriesPlan.Build(headers, seriesInstanceUid, anchor, where);
        var size = plan.Geometry.Size;

        // Before decoding: the decoded slices are held at their stored width until the voxel type is known.
        var bits = plan.Slices.Max(s => s.BitsAllocated);
        var storedWidth = bits <= 8 ? VoxelType.UInt8 : bits <= 16 ? VoxelType.Int16 : VoxelType.Int32;
        limits.Check(size, storedWidth, "DICOM series");

        var decoded = new StoredPixels?[size.K];
        for (var k = 0; k < size.K; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            decoded[k] = DicomPixelDecoder.Decode(plan.Slices[k]);
        }

        var type = DicomRescale.ChooseType(plan.Slices.Select((s, k) => (s.RescaleSlope, s.RescaleIntercept, decoded[k]!.Min, decoded[k]!.Max)).ToList());
        var volume = new Volume(plan.Geometry, type, limits);
        for (var k = 0; k < size.K; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            DicomRescale.Fill(volume, k, decoded[k]!, plan.Slices[k].RescaleSlope, plan.Slices[k].RescaleIntercept);
            decoded[k] = null;
        }

        return volume;
    }
#else
    private static Volume ReadWithGdcm(string path, string? seriesInstanceUid, VolumeLimits limits, CancellationToken cancellationToken)
        => throw new VolumeFormatException(GdcmRuntime.MissingMessage);
#endif
}
