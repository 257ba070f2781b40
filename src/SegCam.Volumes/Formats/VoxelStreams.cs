using System.IO.Compression;
using SegCam.Common.Errors;

namespace SegCam.Volumes.Formats;

/// <summary>Bounded reading helpers shared by the format readers: exact reads, byte swapping, guarded decompression.</summary>
internal static class VoxelStreams
{
    /// <summary>Fills <paramref name="buffer"/> or throws a <see cref="VolumeFormatException"/> saying the file is truncated.</summary>
    public static void ReadExactly(Stream stream, Span<byte> buffer, string path, string what)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            int n;
            try
            {
                n = stream.Read(buffer[total..]);
            }
            catch (InvalidDataException ex)
            {
                throw new VolumeFormatException($"'{path}': corrupt compressed data in the {what} ({ex.Message})", ex);
            }

            if (n == 0)
            {
                throw new VolumeFormatException($"'{path}' is truncated: the {what} needs {buffer.Length:N0} bytes, only {total:N0} are present");
            }

            total += n;
        }
    }

    /// <summary>Skips <paramref name="count"/> bytes of a forward-only stream (e.g. gzip) or throws if it ends first.</summary>
    public static void Skip(Stream stream, long count, string path, string what)
    {
        Span<byte> scratch = stackalloc byte[4096];
        while (count > 0)
        {
            var chunk = (int)Math.Min(count, scratch.Length);
            ReadExactly(stream, scratch[..chunk], path, what);
            count -= chunk;
        }
    }

    /// <summary>Reverses the byte order of every <paramref name="elementSize"/>-byte element in place.</summary>
    public static void SwapBytes(Span<byte> data, int elementSize)
    {
        if (elementSize == 1)
        {
            return;
        }

        for (var at = 0; at + elementSize <= data.Length; at += elementSize)
        {
            data.Slice(at, elementSize).Reverse();
        }
    }

    /// <summary>True when the file starts with the gzip magic bytes.</summary>
    public static bool IsGzip(string path)
    {
        using var file = File.OpenRead(path);
        return file.ReadByte() == 0x1f && file.ReadByte() == 0x8b;
    }

    /// <summary>
    /// A decompressing view of <paramref name="stream"/>. Callers only ever read the number of bytes the header
    /// promises, so a gzip bomb costs at most that (already limit-checked) amount.
    /// </summary>
    public static Stream Gunzip(Stream stream) => new GZipStream(stream, CompressionMode.Decompress, leaveOpen: false);

    /// <summary>
    /// Writes to a temporary file beside <paramref name="path"/> and renames it into place, so a failed write never
    /// leaves a half-written image under the requested name.
    /// </summary>
    public static void WriteAtomically(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(directory))
        {
            throw new InputFileNotFoundException($"output directory '{directory}' does not exist");
        }

        var temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                write(file);
            }

            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }
}
