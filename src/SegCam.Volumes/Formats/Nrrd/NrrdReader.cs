using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using SegCam.Common.Errors;

namespace SegCam.Volumes.Formats.Nrrd;

/// <summary>
/// Reads NRRD images: the header, then exactly the voxel bytes it promises (after the limits were checked), from the
/// same file or a detached data file, raw, gzip-compressed or as text.
/// </summary>
internal static class NrrdReader
{
    /// <summary>Longest number accepted in ASCII-encoded data.</summary>
    private const int MaxTokenLength = 64;

    /// <summary>Reads the image at <paramref name="path"/>.</summary>
    public static Volume Read(string path, VolumeLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(limits);
        using var file = Open(path, path);
        var header = NrrdHeader.Read(file, path);
        var layout = NrrdLayout.Interpret(header, path, limits);
        if (layout.DataFile is null)
        {
            if (!header.EndsWithBlankLine)
            {
                throw new VolumeFormatException($"'{path}' holds no voxel data: no blank line ends the header and no 'data file' field names a detached data file");
            }

            return ReadData(file, path, layout, limits, cancellationToken);
        }

        if (!File.Exists(layout.DataFile))
        {
            throw new VolumeFormatException($"'{path}': its data file '{layout.DataFile}' does not exist");
        }

        using var data = Open(layout.DataFile, path);
        return ReadData(data, layout.DataFile, layout, limits, cancellationToken);
    }

    /// <summary>Opens a file for reading, reporting a missing one as such.</summary>
    public static FileStream Open(string file, string headerPath)
    {
        if (Directory.Exists(file))
        {
            throw new VolumeFormatException($"'{file}' is a folder, not a NRRD file");
        }

        try
        {
            return new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw file == headerPath
                ? new InputFileNotFoundException($"image '{file}' does not exist")
                : new VolumeFormatException($"'{headerPath}': its data file '{file}' does not exist", ex);
        }
    }

    private static Volume ReadData(Stream stream, string path, NrrdLayout layout, VolumeLimits limits, CancellationToken cancellationToken)
    {
        var what = $"voxel data ({layout.Geometry.Size} {layout.Type}, {layout.DataBytes:N0} bytes)";
        SkipLines(stream, layout.LineSkip, path);
        return layout.Encoding switch
        {
            NrrdEncoding.Raw => ReadRaw(stream, path, layout, what, limits, cancellationToken),
            NrrdEncoding.Gzip => ReadGzip(stream, path, layout, what, limits, cancellationToken),
            NrrdEncoding.Ascii => ReadAscii(stream, path, layout, limits, cancellationToken),
            _ => throw new InvalidOperationException($"encoding {layout.Encoding}"),
        };
    }

    private static Volume ReadRaw(Stream stream, string path, NrrdLayout layout, string what, VolumeLimits limits, CancellationToken cancellationToken)
    {
        SeekToRawData(stream, path, layout, what);
        var volume = new Volume(layout.Geometry, layout.Type, limits);
        ReadBinarySlices(stream, volume, path, layout, what, cancellationToken);
        return volume;
    }

    private static Volume ReadGzip(Stream stream, string path, NrrdLayout layout, string what, VolumeLimits limits, CancellationToken cancellationToken)
    {
        var volume = new Volume(layout.Geometry, layout.Type, limits);
        using var gunzip = VoxelStreams.Gunzip(stream);
        VoxelStreams.Skip(gunzip, layout.ByteSkip, path, "decompressed bytes skipped before the voxel data ('byte skip')");
        ReadBinarySlices(gunzip, volume, path, layout, what, cancellationToken);
        return volume;
    }

    private static Volume ReadAscii(Stream stream, string path, NrrdLayout layout, VolumeLimits limits, CancellationToken cancellationToken)
    {
        VoxelStreams.Skip(stream, layout.ByteSkip, path, "bytes skipped before the voxel data ('byte skip')");
        var volume = new Volume(layout.Geometry, layout.Type, limits);
        ReadAsciiSlices(stream, volume, path, cancellationToken);
        return volume;
    }

    /// <summary>Moves to the raw voxels (honouring byte skip, −1 included) after checking that the file holds all of them.</summary>
    private static void SeekToRawData(Stream stream, string path, NrrdLayout layout, string what)
    {
        if (!stream.CanSeek)
        {
            VoxelStreams.Skip(stream, layout.ByteSkip, path, "bytes skipped before the voxel data ('byte skip')");
            return;
        }

        var length = stream.Length;
        var start = layout.ByteSkip == -1 ? length - layout.DataBytes : stream.Position + layout.ByteSkip;
        var available = length - Math.Max(start, stream.Position);
        if (start < stream.Position || available < layout.DataBytes)
        {
            var skipped = layout.ByteSkip > 0 ? $" after skipping {layout.ByteSkip:N0} bytes" : string.Empty;
            throw new VolumeFormatException($"'{path}' is truncated: the {what} needs {layout.DataBytes:N0} bytes{skipped}, only {Math.Max(0, available):N0} are present");
        }

        stream.Position = start;
    }

    private static void ReadBinarySlices(Stream stream, Volume volume, string path, NrrdLayout layout, string what, CancellationToken cancellationToken)
    {
        var slices = volume.Geometry.Size.K;
        var elementSize = layout.Type.Size();
        for (var k = 0; k < slices; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var slice = volume.SliceData(k);
            VoxelStreams.ReadExactly(stream, slice, path, $"{what}, slice {k} of {slices},");
            if (layout.BigEndian)
            {
                VoxelStreams.SwapBytes(slice, elementSize);
            }
        }
    }

    private static void ReadAsciiSlices(Stream stream, Volume volume, string path, CancellationToken cancellationToken)
    {
        var total = volume.Geometry.Size.Voxels;
        var perSlice = (int)volume.Geometry.Size.SliceVoxels;
        var elementSize = volume.Type.Size();
        var token = new StringBuilder(MaxTokenLength);
        long index = 0;
        for (var k = 0; k < volume.Geometry.Size.K; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var slice = volume.SliceData(k);
            for (var v = 0; v < perSlice; v++, index++)
            {
                if (!NextToken(stream, token, path))
                {
                    throw new VolumeFormatException($"'{path}' is truncated: the text voxel data needs {total:N0} values, only {index:N0} are present");
                }

                var text = token.ToString();
                if (!Store(volume.Type, text, slice[(v * elementSize)..]))
                {
                    throw new VolumeFormatException($"'{path}': voxel {index:N0} of the text data, '{text}', is not a valid {volume.Type} value");
                }
            }
        }
    }

    /// <summary>Reads the next number of text data (separated by whitespace or commas); false at the end of the stream.</summary>
    private static bool NextToken(Stream stream, StringBuilder token, string path)
    {
        token.Clear();
        int b;
        do
        {
            b = stream.ReadByte();
        }
        while (b is ' ' or '\t' or '\r' or '\n' or ',' or '\f' or '\v');

        while (b >= 0 && b is not (' ' or '\t' or '\r' or '\n' or ',' or '\f' or '\v'))
        {
            if (token.Length == MaxTokenLength)
            {
                throw new VolumeFormatException($"'{path}': the text voxel data holds a value longer than {MaxTokenLength} characters");
            }

            token.Append((char)b);
            b = stream.ReadByte();
        }

        return token.Length > 0;
    }

    private static bool Store(VoxelType type, string text, Span<byte> target)
    {
        if (type.IsFloatingPoint())
        {
            if (!NrrdValues.TryParseDouble(text, out var real))
            {
                return false;
            }

            if (type == VoxelType.Float32)
            {
                BinaryPrimitives.WriteSingleLittleEndian(target, (float)real);
            }
            else
            {
                BinaryPrimitives.WriteDoubleLittleEndian(target, real);
            }

            return true;
        }

        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }

        switch (type)
        {
            case VoxelType.UInt8 when value is >= byte.MinValue and <= byte.MaxValue: target[0] = (byte)value; return true;
            case VoxelType.Int8 when value is >= sbyte.MinValue and <= sbyte.MaxValue: target[0] = (byte)(sbyte)value; return true;
            case VoxelType.UInt16 when value is >= ushort.MinValue and <= ushort.MaxValue: BinaryPrimitives.WriteUInt16LittleEndian(target, (ushort)value); return true;
            case VoxelType.Int16 when value is >= short.MinValue and <= short.MaxValue: BinaryPrimitives.WriteInt16LittleEndian(target, (short)value); return true;
            case VoxelType.UInt32 when value is >= uint.MinValue and <= uint.MaxValue: BinaryPrimitives.WriteUInt32LittleEndian(target, (uint)value); return true;
            case VoxelType.Int32 when value is >= int.MinValue and <= int.MaxValue: BinaryPrimitives.WriteInt32LittleEndian(target, (int)value); return true;
            default: return false;
        }
    }

    /// <summary>Skips <paramref name="lines"/> lines ('line skip'), reading at most what the file holds.</summary>
    private static void SkipLines(Stream stream, long lines, string path)
    {
        for (long line = 0; line < lines; line++)
        {
            int b;
            do
            {
                b = stream.ReadByte();
                if (b < 0)
                {
                    throw new VolumeFormatException($"'{path}' is truncated: the header asks to skip {lines:N0} lines before the voxel data, the file has only {line:N0}");
                }
            }
            while (b != '\n');
        }
    }
}
