using System.IO.Compression;

namespace SegCam.Volumes.Formats.MetaImage;

/// <summary>
/// MetaImage (ITK): .mha holds a text header and the voxels in one file; .mhd is the header alone, its voxels in the
/// file ElementDataFile names (.raw, or .zraw when compressed). Geometry is LPS as ITK stores it. Reads 2-D and 3-D
/// scalar images of the eight <see cref="VoxelType"/>s, raw or zlib-compressed, either byte order; writes 3-D images.
/// </summary>
public sealed class MetaImageFormat : IVolumeFormat
{
    /// <summary>Write the voxels as one zlib stream (CompressedData = True); off by default, as ITK's writer.</summary>
    public bool Compress { get; init; }

    /// <summary>zlib effort when <see cref="Compress"/> is set.</summary>
    public CompressionLevel CompressionLevel { get; init; } = CompressionLevel.Optimal;

    /// <inheritdoc />
    public string Name => "MetaImage";

    /// <inheritdoc />
    public IReadOnlyList<string> Extensions { get; } = [".mha", ".mhd"];

    /// <inheritdoc />
    public Volume Read(string path, VolumeLimits limits, CancellationToken cancellationToken)
        => MetaImageReader.Read(path, limits, cancellationToken);

    /// <inheritdoc />
    public void Write(Volume volume, string path, CancellationToken cancellationToken)
        => MetaImageWriter.Write(volume, path, Compress, CompressionLevel, cancellationToken);
}
