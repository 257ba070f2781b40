using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace SegCam.Volumes.Formats.Nrrd;

/// <summary>
/// Writes NRRD0004 files in LPS with space directions and origin, little-endian, raw or gzip, attached (.nrrd,
/// .seg.nrrd) or detached (.nhdr plus a data file beside it); every file is written to a temporary name first.
/// </summary>
internal static class NrrdWriter
{
    /// <summary>Writes <paramref name="volume"/> to <paramref name="path"/>, with segment metadata when given.</summary>
    public static void Write(Volume volume, string path, bool compress, IReadOnlyList<NrrdSegmentInfo>? segments, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(volume);
        ArgumentNullException.ThrowIfNull(path);
        if (segments is not null)
        {
            NrrdSegments.Validate(volume, segments);
        }

        string? dataFile = null;
        if (path.EndsWith(".nhdr", StringComparison.OrdinalIgnoreCase))
        {
            var name = Path.GetFileName(path);
            dataFile = name[..^".nhdr".Length] + (compress ? ".raw.gz" : ".raw");
        }

        var header = Header(volume, compress, dataFile, segments, cancellationToken);
        if (dataFile is null)
        {
            VoxelStreams.WriteAtomically(path, stream =>
            {
                stream.Write(header);
                WriteVoxels(stream, volume, compress, cancellationToken);
            });
            return;
        }

        var dataPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", dataFile);
        VoxelStreams.WriteAtomically(dataPath, stream => WriteVoxels(stream, volume, compress, cancellationToken));
        VoxelStreams.WriteAtomically(path, stream => stream.Write(header));
    }

    private static byte[] Header(Volume volume, bool compress, string? dataFile, IReadOnlyList<NrrdSegmentInfo>? segments, CancellationToken cancellationToken)
    {
        var g = volume.Geometry;
        var text = new StringBuilder();
        text.Append("NRRD0004\n");
        text.Append("# Complete NRRD file format specification at:\n");
        text.Append("# http://teem.sourceforge.net/nrrd/format.html\n");
        text.Append(CultureInfo.InvariantCulture, $"type: {NrrdValues.TypeName(volume.Type)}\n");
        text.Append("dimension: 3\n");
        text.Append("space: left-posterior-superior\n");
        text.Append(CultureInfo.InvariantCulture, $"sizes: {g.Size.I} {g.Size.J} {g.Size.K}\n");
        text.Append(CultureInfo.InvariantCulture, $"space directions: {NrrdValues.Format(g.Direction.I * g.Spacing.X)} {NrrdValues.Format(g.Direction.J * g.Spacing.Y)} {NrrdValues.Format(g.Direction.K * g.Spacing.Z)}\n");
        text.Append("kinds: domain domain domain\n");
        text.Append("endian: little\n");
        text.Append(compress ? "encoding: gzip\n" : "encoding: raw\n");
        text.Append(CultureInfo.InvariantCulture, $"space origin: {NrrdValues.Format(g.Origin)}\n");
        if (dataFile is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $"data file: {dataFile}\n");
        }

        if (segments is not null)
        {
            NrrdSegments.Append(text, volume, segments, cancellationToken);
        }

        text.Append('\n');
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static void WriteVoxels(Stream stream, Volume volume, bool compress, CancellationToken cancellationToken)
    {
        if (!compress)
        {
            WriteSlices(stream, volume, cancellationToken);
            return;
        }

        using var gzip = new GZipStream(stream, CompressionLevel.Optimal, leaveOpen: true);
        WriteSlices(gzip, volume, cancellationToken);
    }

    private static void WriteSlices(Stream stream, Volume volume, CancellationToken cancellationToken)
    {
        for (var k = 0; k < volume.Geometry.Size.K; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            stream.Write(volume.SliceData(k));
        }
    }
}
