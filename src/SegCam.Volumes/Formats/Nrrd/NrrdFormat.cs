namespace SegCam.Volumes.Formats.Nrrd;

/// <summary>
/// NRRD images (teem's format, written by 3D Slicer, ITK, plastimatch, pynrrd): attached .nrrd, 3D Slicer label-map
/// segmentations (.seg.nrrd, whose segment names and label values <see cref="ReadSegments"/> returns) and detached
/// headers (.nhdr with a data file). Geometry is converted to LPS on read; files are written in LPS.
/// </summary>
public sealed class NrrdFormat : IVolumeFormat
{
    /// <inheritdoc />
    public string Name => "NRRD";

    /// <inheritdoc />
    public IReadOnlyList<string> Extensions { get; } = [".seg.nrrd", ".nrrd", ".nhdr"];

    /// <summary>
    /// True (the default) to write gzip-compressed voxels; false to write them raw. A .nhdr header gets a data file
    /// named like it with ".raw.gz" or ".raw".
    /// </summary>
    public bool Compress { get; init; } = true;

    /// <inheritdoc />
    public Volume Read(string path, VolumeLimits limits, CancellationToken cancellationToken)
        => NrrdReader.Read(path, limits, cancellationToken);

    /// <summary>
    /// The segments a 3D Slicer segmentation's header describes (name, label value, layer, ID, colour), in file
    /// order; empty for a file without segment metadata. Only the header is read.
    /// </summary>
    public static IReadOnlyList<NrrdSegmentInfo> ReadSegments(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = NrrdReader.Open(path, path);
        return NrrdSegments.Parse(NrrdHeader.Read(file, path), path);
    }

    /// <inheritdoc />
    public void Write(Volume volume, string path, CancellationToken cancellationToken)
        => NrrdWriter.Write(volume, path, Compress, segments: null, cancellationToken);

    /// <summary>
    /// Writes a label map with 3D Slicer segment metadata (one <c>Segment{n}_…</c> group per entry of
    /// <paramref name="segments"/>, all in layer 0), so Slicer shows the segments by name and colour.
    /// </summary>
    /// <exception cref="ArgumentException">The volume is not an integer label map, or a label value or ID is invalid or repeated.</exception>
    public void Write(Volume volume, string path, IReadOnlyList<NrrdSegmentInfo> segments, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(segments);
        NrrdWriter.Write(volume, path, Compress, segments, cancellationToken);
    }
}
