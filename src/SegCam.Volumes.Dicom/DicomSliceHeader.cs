using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Dicom;

/// <summary>
/// What the series reader needs from one DICOM image file's header (no patient fields). Optional attributes are
/// null when the file lacks them; the series plan decides which absences are errors.
/// </summary>
internal sealed record DicomSliceHeader
{
    /// <summary>Full path of the file.</summary>
    public required string Path { get; init; }

    /// <summary>(0020,000E); empty when absent.</summary>
    public string SeriesInstanceUid { get; init; } = string.Empty;

    /// <summary>(0008,103E); empty when absent.</summary>
    public string SeriesDescription { get; init; } = string.Empty;

    /// <summary>(0020,0052); empty when absent.</summary>
    public string FrameOfReferenceUid { get; init; } = string.Empty;

    /// <summary>(0028,0010).</summary>
    public int Rows { get; init; }

    /// <summary>(0028,0011).</summary>
    public int Columns { get; init; }

    /// <summary>(0028,0008); 1 when absent.</summary>
    public int NumberOfFrames { get; init; } = 1;

    /// <summary>(0028,0002); 1 when absent.</summary>
    public int SamplesPerPixel { get; init; } = 1;

    /// <summary>(0028,0004), e.g. MONOCHROME2; empty when absent.</summary>
    public string PhotometricInterpretation { get; init; } = string.Empty;

    /// <summary>(0028,0100); 0 when absent.</summary>
    public int BitsAllocated { get; init; }

    /// <summary>(0028,0101); <see cref="BitsAllocated"/> when absent.</summary>
    public int BitsStored { get; init; }

    /// <summary>(0028,0102); <see cref="BitsStored"/> − 1 when absent.</summary>
    public int HighBit { get; init; }

    /// <summary>(0028,0103): 1 for two's complement values, 0 (also when absent) for unsigned.</summary>
    public int PixelRepresentation { get; init; }

    /// <summary>(0020,0032) ImagePositionPatient: LPS centre of the first transmitted pixel.</summary>
    public Vector3? Position { get; init; }

    /// <summary>(0020,0037) ImageOrientationPatient: row direction (3 values), then column direction (3 values).</summary>
    public IReadOnlyList<double>? Orientation { get; init; }

    /// <summary>(0028,0030) PixelSpacing: distance between rows, then between columns (mm).</summary>
    public IReadOnlyList<double>? PixelSpacing { get; init; }

    /// <summary>(0018,0050) SliceThickness (mm).</summary>
    public double? SliceThickness { get; init; }

    /// <summary>(0028,1053); 1 when absent.</summary>
    public double RescaleSlope { get; init; } = 1;

    /// <summary>(0028,1052); 0 when absent.</summary>
    public double RescaleIntercept { get; init; }

    /// <summary>True when a Modality LUT Sequence (0028,3000) replaces the rescale.</summary>
    public bool HasModalityLutSequence { get; init; }

    /// <summary>Bytes of native (uncompressed) pixel data the file holds after the Pixel Data header, when known.</summary>
    public long? NativePixelBytesAvailable { get; init; }

    /// <summary>A malformed attribute value (read as absent), reported if the file belongs to the series read.</summary>
    public string? Problem { get; init; }

    /// <summary>File name for messages.</summary>
    public string Name => System.IO.Path.GetFileName(Path);

    /// <summary>Bytes native pixel data must have: rows × columns × frames × samples × bits allocated / 8.</summary>
    public long NativePixelBytesNeeded => ((long)Rows * Columns * Math.Max(1, NumberOfFrames) * Math.Max(1, SamplesPerPixel) * BitsAllocated + 7) / 8;
}
