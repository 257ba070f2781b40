using System.IO.Compression;
using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Formats.MetaImage;

/// <summary>
/// Reads .mha / .mhd images: parses the header, checks the limits before allocating, then reads exactly the promised
/// voxel bytes slice by slice (inflating them when CompressedData is set), so neither a lying header nor a zlib bomb can
/// make it allocate or read more than the limits allow.
/// </summary>
internal static class MetaImageReader
{
    public static Volume Read(string path, VolumeLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(limits);
        if (!File.Exists(path))
        {
            throw new InputFileNotFoundException($"image '{path}' does not exist");
        }

        using var headerFile = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var length = headerFile.Length;
        var start = new byte[(int)Math.Min(length, MetaImageHeader.MaxHeaderBytes)];
        VoxelStreams.ReadExactly(headerFile, start, path, "header");
        var header = MetaImageHeader.Parse(start, start.Length == length, path);

        limits.Check(header.Size, header.Type, $"'{path}'");
        var sliceBytes = header.Size.SliceVoxels * header.Type.Size();
        if (sliceBytes > Array.MaxLength)
        {
            throw new ResourceLimitException($"'{path}': one {header.Size.I}×{header.Size.J} slice takes {sliceBytes:N0} bytes; at most {Array.MaxLength:N0} are supported");
        }

        var geometry = header.Geometry();
        if (header.IsLocal)
        {
            return ReadVoxels(header, geometry, headerFile, path, header.HeaderEnd, limits, cancellationToken);
        }

        var dataPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", header.ElementDataFile);
        if (!File.Exists(dataPath))
        {
            throw new VolumeFormatException($"'{path}': its voxel data file '{dataPath}' (ElementDataFile = {header.ElementDataFile}) does not exist");
        }

        using var dataFile = new FileStream(dataPath, FileMode.Open, FileAccess.Read, FileShare.Read);
        return ReadVoxels(header, geometry, dataFile, dataPath, 0, limits, cancellationToken);
    }

    private static Volume ReadVoxels(
        MetaImageHeader header, VolumeGeometry geometry, FileStream file, string path, long dataStart, VolumeLimits limits, CancellationToken cancellationToken)
    {
        var length = file.Length;
        var start = header.HeaderSize switch
        {
            > 0 => header.HeaderSize.Value,
            -1 => length - header.DataBytes,
            _ => dataStart,
        };

        if (start < dataStart)
        {
            throw header.HeaderSize == -1
                ? Truncated(path, "voxel data", header.DataBytes, Math.Max(0, length - dataStart))
                : new VolumeFormatException($"'{path}': HeaderSize = {header.HeaderSize} points inside the header");
        }

        var available = Math.Max(0, length - start);
        if (!header.Compressed && available < header.DataBytes)
        {
            throw Truncated(path, "voxel data", header.DataBytes, available);
        }

        var compressedBytes = header.CompressedDataSize ?? available;
        if (header.Compressed && compressedBytes > available)
        {
            throw Truncated(path, "compressed voxel data (CompressedDataSize)", compressedBytes, available);
        }

        file.Position = Math.Min(start, length);
        var volume = new Volume(geometry, header.Type, limits);
        if (!header.Compressed)
        {
            ReadSlices(volume, file, header.BigEndian, path, "voxel data", cancellationToken);
            return volume;
        }

        var gzip = file.ReadByte() == 0x1f && file.ReadByte() == 0x8b;
        file.Position = start;
        using var window = new BoundedReadStream(file, compressedBytes);
        using Stream inflater = gzip ? new GZipStream(window, CompressionMode.Decompress) : new ZLibStream(window, CompressionMode.Decompress);
        ReadSlices(volume, inflater, header.BigEndian, path, "compressed voxel data", cancellationToken);
        return volume;
    }

    private static void ReadSlices(Volume volume, Stream stream, bool bigEndian, string path, string what, CancellationToken cancellationToken)
    {
        var slices = volume.Geometry.Size.K;
        for (var k = 0; k < slices; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var slice = volume.SliceData(k);
            VoxelStreams.ReadExactly(stream, slice, path, $"{what} (slice {k + 1} of {slices})");
            if (bigEndian)
            {
                VoxelStreams.SwapBytes(slice, volume.Type.Size());
            }
        }
    }

    private static VolumeFormatException Truncated(string path, string what, long needed, long present)
        => new($"'{path}' is truncated: the {what} needs {needed:N0} bytes, only {present:N0} are present");
}
