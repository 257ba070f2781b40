using System.Globalization;
using System.IO.Compression;
using System.Text;
using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Formats.MetaImage;

/// <summary>
/// Writes .mha (header and voxels in one file, ElementDataFile = LOCAL) and .mhd (header plus a .raw or, compressed,
/// .zraw data file of the same base name), with the header keys and conventions ITK writes and reads.
/// </summary>
internal static class MetaImageWriter
{
    public static void Write(Volume volume, string path, bool compress, CompressionLevel level, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(volume);
        ArgumentNullException.ThrowIfNull(path);
        if (!path.EndsWith(".mhd", StringComparison.OrdinalIgnoreCase))
        {
            VoxelStreams.WriteAtomically(path, file =>
            {
                long? compressedBytes = null;
                if (compress)
                {
                    // Sizing pass: the header, written first, must state CompressedDataSize.
                    using var counter = new CountingStream();
                    WriteVoxels(volume, counter, compress, level, cancellationToken);
                    compressedBytes = counter.Count;
                }

                file.Write(Header(volume, compressedBytes, MetaImageHeader.Local));
                var start = file.Position;
                WriteVoxels(volume, file, compress, level, cancellationToken);
                if (compress && file.Position - start != compressedBytes)
                {
                    throw new InvalidOperationException($"compressing '{path}' gave {file.Position - start:N0} bytes after {compressedBytes:N0} in the sizing pass");
                }
            });
            return;
        }

        var dataName = Path.GetFileNameWithoutExtension(path) + (compress ? ".zraw" : ".raw");
        if (dataName.Contains('%', StringComparison.Ordinal) || dataName.StartsWith("LIST", StringComparison.OrdinalIgnoreCase))
        {
            throw new VolumeFormatException($"cannot write '{path}': ITK would read the data file name '{dataName}' as a file list or pattern; rename it or write .mha");
        }

        var dataPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", dataName);
        long dataBytes = 0;
        VoxelStreams.WriteAtomically(dataPath, file =>
        {
            WriteVoxels(volume, file, compress, level, cancellationToken);
            dataBytes = file.Position;
        });
        VoxelStreams.WriteAtomically(path, file => file.Write(Header(volume, compress ? dataBytes : null, dataName)));
    }

    private static void WriteVoxels(Volume volume, Stream target, bool compress, CompressionLevel level, CancellationToken cancellationToken)
    {
        using var zlib = compress ? new ZLibStream(target, level, leaveOpen: true) : null;
        var stream = (Stream?)zlib ?? target;
        for (var k = 0; k < volume.Geometry.Size.K; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            stream.Write(volume.SliceData(k));
        }
    }

    private static byte[] Header(Volume volume, long? compressedBytes, string dataFile)
    {
        var g = volume.Geometry;
        var d = g.Direction;
        var text = new StringBuilder()
            .Append("ObjectType = Image\n")
            .Append("NDims = 3\n")
            .Append("BinaryData = True\n")
            .Append("BinaryDataByteOrderMSB = False\n")
            .Append(compressedBytes is null ? "CompressedData = False\n" : "CompressedData = True\n");
        if (compressedBytes is { } size)
        {
            text.Append(CultureInfo.InvariantCulture, $"CompressedDataSize = {size}\n");
        }

        // ITK lists the direction of index axis 0, then 1, then 2: the columns of the direction matrix.
        text.Append("TransformMatrix = ").Append(Numbers(d.I, d.J, d.K)).Append('\n')
            .Append("Offset = ").Append(Numbers(g.Origin)).Append('\n')
            .Append("CenterOfRotation = 0 0 0\n")
            .Append("ElementSpacing = ").Append(Numbers(g.Spacing)).Append('\n')
            .Append(CultureInfo.InvariantCulture, $"DimSize = {g.Size.I} {g.Size.J} {g.Size.K}\n")
            .Append("ElementType = ").Append(MetaElementTypes.NameOf(volume.Type)).Append('\n')
            .Append("ElementDataFile = ").Append(dataFile).Append('\n');
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static string Numbers(params Vector3[] vectors)
        => string.Join(' ', vectors.SelectMany(v => new[] { v.X, v.Y, v.Z }).Select(x => x.ToString("R", CultureInfo.InvariantCulture)));
}
