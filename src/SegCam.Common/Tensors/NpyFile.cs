using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using SegCam.Common.Errors;

namespace SegCam.Common.Tensors;

/// <summary>
/// Reads and writes NumPy .npy files (format versions 1.0, 2.0 and 3.0).
/// Everything a file declares is validated before any allocation that depends on it.
/// </summary>
public static class NpyFile
{
    /// <summary>The default limit on an array's data size: 4 GiB.</summary>
    public const long DefaultMaxBytes = 4L << 30;

    /// <summary>The largest header length accepted from a file.</summary>
    internal const int MaxHeaderBytes = 1 << 20;

    /// <summary>NumPy pads the preamble plus header to a multiple of this.</summary>
    internal const int HeaderAlignment = 64;

    /// <summary>NumPy leaves this many characters for the growth axis so the header can be rewritten in place.</summary>
    private const int GrowthAxisDigits = 21;

    /// <summary>Data from a stream of unknown length is read in a buffer that starts this large and doubles.</summary>
    private const int UnknownLengthInitialBuffer = 1 << 20;

    private const string Allowed = "allowed: a NumPy .npy file of format version 1.0, 2.0 or 3.0";

    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads a .npy file.</summary>
    /// <exception cref="InputFileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ArrayFormatException">The file is malformed, truncated or of an unsupported kind.</exception>
    /// <exception cref="ResourceLimitException">The array's data would exceed <paramref name="maxBytes"/>.</exception>
    public static NdArray Read(string path, long maxBytes = DefaultMaxBytes)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        if (Directory.Exists(path))
        {
            throw new InputFileNotFoundException($"{path}: is a directory, not a .npy file");
        }

        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InputFileNotFoundException($"{path}: file not found");
        }

        using (stream)
        {
            return Read(stream, path, maxBytes);
        }
    }

    /// <summary>
    /// Reads one array from <paramref name="stream"/>, starting at its current position and leaving it just after the
    /// array's data. <paramref name="displayName"/> names the source in error messages.
    /// </summary>
    /// <exception cref="ArrayFormatException">The data is malformed, truncated or of an unsupported kind.</exception>
    /// <exception cref="ResourceLimitException">The array's data would exceed <paramref name="maxBytes"/>.</exception>
    public static NdArray Read(Stream stream, string displayName, long maxBytes = DefaultMaxBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(displayName);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        if (!stream.CanRead)
        {
            throw new ArgumentException("the stream is not readable", nameof(stream));
        }

        long? remaining = stream.CanSeek ? Math.Max(0, stream.Length - stream.Position) : null;

        // Preamble: magic (6), major, minor, header length (uint16 for 1.0, uint32 for 2.0 and 3.0).
        Span<byte> preamble = stackalloc byte[12];
        int got = stream.ReadAtLeast(preamble[..10], 10, throwOnEndOfStream: false);
        int magicBytes = Math.Min(got, Magic.Length);
        if (!preamble[..magicBytes].SequenceEqual(Magic[..magicBytes]) || got == 0)
        {
            string found = got == 0 ? "it is empty" : $"it starts with {Hex(preamble[..magicBytes])}";
            throw new ArrayFormatException(
                $"{displayName}: not a .npy file: {found}, not the NumPy magic string 93 4E 55 4D 50 59 (\"\\x93NUMPY\"); {Allowed}");
        }

        if (got < 10)
        {
            throw new ArrayFormatException(
                $"{displayName}: truncated .npy file: it ends after {got} bytes, inside the 10-byte preamble (magic, version, header length)");
        }

        byte major = preamble[6];
        byte minor = preamble[7];
        int preambleLength;
        long headerLength;
        Encoding headerEncoding;
        switch ((major, minor))
        {
            case (1, 0):
                preambleLength = 10;
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(preamble[8..10]);
                headerEncoding = Encoding.Latin1;
                break;
            case (2, 0) or (3, 0):
                preambleLength = 12;
                if (stream.ReadAtLeast(preamble[10..12], 2, throwOnEndOfStream: false) < 2)
                {
                    throw new ArrayFormatException(
                        $"{displayName}: truncated .npy file: it ends inside the 12-byte preamble of format version {major}.0");
                }

                headerLength = BinaryPrimitives.ReadUInt32LittleEndian(preamble[8..12]);
                headerEncoding = major == 3 ? new UTF8Encoding(false, throwOnInvalidBytes: true) : Encoding.Latin1;
                break;
            default:
                throw new ArrayFormatException(
                    $"{displayName}: .npy format version {major}.{minor} is not supported; allowed: 1.0, 2.0, 3.0");
        }

        if (headerLength > MaxHeaderBytes)
        {
            throw new ArrayFormatException(
                $"{displayName}: the header length is {headerLength} bytes; allowed: at most {MaxHeaderBytes} bytes");
        }

        if (remaining is long total && headerLength > total - preambleLength)
        {
            throw new ArrayFormatException(
                $"{displayName}: truncated header: the preamble declares a {headerLength}-byte header but only "
                + $"{Math.Max(0, total - preambleLength)} bytes follow the preamble");
        }

        var headerBytes = new byte[headerLength];
        int headerGot = stream.ReadAtLeast(headerBytes, headerBytes.Length, throwOnEndOfStream: false);
        if (headerGot < headerBytes.Length)
        {
            throw new ArrayFormatException(
                $"{displayName}: truncated header: the preamble declares a {headerLength}-byte header but only "
                + $"{headerGot} bytes follow the preamble");
        }

        string headerText;
        try
        {
            headerText = headerEncoding.GetString(headerBytes);
        }
        catch (DecoderFallbackException)
        {
            throw new ArrayFormatException($"{displayName}: the version 3.0 header is not valid UTF-8");
        }

        NpyHeader header = NpyHeader.Parse(headerText, displayName);
        int itemSize = header.DType.ItemSize();
        string described = $"shape {NdArray.FormatShape(header.Shape)} of {header.DType.NumPyName()}";

        // Checked size arithmetic; any zero dimension makes the array empty whatever the other dimensions are.
        long byteCount = 0;
        if (!header.Shape.Contains(0))
        {
            try
            {
                byteCount = itemSize;
                foreach (int dim in header.Shape)
                {
                    byteCount = checked(byteCount * dim);
                }
            }
            catch (OverflowException)
            {
                throw new ResourceLimitException(
                    $"{displayName}: {described} declares more than {long.MaxValue} bytes of data; the limit is {maxBytes} bytes");
            }
        }

        if (byteCount > maxBytes)
        {
            throw new ResourceLimitException(
                $"{displayName}: {described} declares {byteCount} bytes of data; the limit is {maxBytes} bytes");
        }

        if (byteCount > Array.MaxLength)
        {
            throw new ResourceLimitException(
                $"{displayName}: {described} declares {byteCount} bytes of data; arrays of at most {Array.MaxLength} bytes are supported");
        }

        long dataAvailable = remaining is long all ? Math.Max(0, all - preambleLength - headerLength) : -1;
        if (remaining is not null && dataAvailable < byteCount)
        {
            throw Truncated(displayName, described, byteCount, dataAvailable);
        }

        byte[] data = ReadData(stream, (int)byteCount, initialBuffer: remaining is null ? UnknownLengthInitialBuffer : (int)byteCount, displayName, described);

        if (header.BigEndian)
        {
            SwapBytes(data, itemSize);
        }

        int[] shape = header.Shape;
        if (header.FortranOrder)
        {
            data = FortranToC(data, shape, itemSize);
        }

        return NdArray.CreateOwned(header.DType, shape, data);
    }

    /// <summary>
    /// Writes <paramref name="array"/> to <paramref name="path"/>: first to a temporary file in the same directory, then
    /// moved over the destination, so a failure never leaves a half-written file.
    /// </summary>
    public static void Write(string path, NdArray array)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(array);
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException($"{path}: has no parent directory", nameof(path));
        string temp = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                Write(stream, array);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="array"/> as a .npy (version 1.0, or 2.0 when the header needs more than 65535 bytes).</summary>
    public static void Write(Stream stream, NdArray array)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(array);
        stream.Write(BuildHeader(array));
        stream.Write(array.Bytes);
    }

    /// <summary>The preamble and padded header NumPy would write for <paramref name="array"/>.</summary>
    internal static byte[] BuildHeader(NdArray array)
    {
        var dict = new StringBuilder()
            .Append("{'descr': '").Append(array.DType.LittleEndianDescr())
            .Append("', 'fortran_order': False, 'shape': ").Append(NdArray.FormatShape(array.Shape))
            .Append(", }");
        if (array.Rank > 0)
        {
            dict.Append(' ', GrowthAxisDigits - array.Shape[0].ToString(CultureInfo.InvariantCulture).Length);
        }

        // Pad with spaces and end with '\n' so that preamble + header is a multiple of 64 bytes.
        int preambleLength = 10;
        int headerLength = PaddedLength(preambleLength, dict.Length);
        if (headerLength > ushort.MaxValue)
        {
            preambleLength = 12;
            headerLength = PaddedLength(preambleLength, dict.Length);
        }

        var bytes = new byte[preambleLength + headerLength];
        Magic.CopyTo(bytes);
        bytes[6] = preambleLength == 10 ? (byte)1 : (byte)2;
        bytes[7] = 0;
        if (preambleLength == 10)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)headerLength);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)headerLength);
        }

        Span<byte> header = bytes.AsSpan(preambleLength);
        header.Fill((byte)' ');
        Encoding.ASCII.GetBytes(dict.ToString(), header);
        header[^1] = (byte)'\n';
        return bytes;
    }

    private static int PaddedLength(int preambleLength, int dictLength)
    {
        int unpadded = preambleLength + dictLength + 1; // + '\n'
        int padding = (HeaderAlignment - (unpadded % HeaderAlignment)) % HeaderAlignment;
        return dictLength + padding + 1;
    }

    private static ArrayFormatException Truncated(string displayName, string described, long expected, long actual) => new(
        $"{displayName}: truncated data: the header declares {described}, which needs {expected} bytes, "
        + $"but only {actual} bytes follow the header");

    private static byte[] ReadData(Stream stream, int byteCount, int initialBuffer, string displayName, string described)
    {
        if (byteCount == 0)
        {
            return [];
        }

        // With a known stream length the full buffer was already justified; otherwise grow it only as data arrives,
        // so a header declaring a huge array on a short pipe cannot make us allocate the declared size.
        var buffer = new byte[Math.Min(byteCount, Math.Max(1, initialBuffer))];
        int filled = 0;
        while (filled < byteCount)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, byteCount));
            }

            int read = stream.Read(buffer, filled, buffer.Length - filled);
            if (read == 0)
            {
                throw Truncated(displayName, described, byteCount, filled);
            }

            filled += read;
        }

        return buffer;
    }

    private static void SwapBytes(byte[] data, int itemSize)
    {
        switch (itemSize)
        {
            case 2:
                Span<ushort> u16 = MemoryMarshal.Cast<byte, ushort>(data.AsSpan());
                BinaryPrimitives.ReverseEndianness(u16, u16);
                break;
            case 4:
                Span<uint> u32 = MemoryMarshal.Cast<byte, uint>(data.AsSpan());
                BinaryPrimitives.ReverseEndianness(u32, u32);
                break;
            case 8:
                Span<ulong> u64 = MemoryMarshal.Cast<byte, ulong>(data.AsSpan());
                BinaryPrimitives.ReverseEndianness(u64, u64);
                break;
        }
    }

    /// <summary>Reorders column-major (Fortran) data into row-major (C) order.</summary>
    private static byte[] FortranToC(byte[] data, int[] shape, int itemSize)
    {
        if (shape.Length <= 1 || data.Length == 0)
        {
            return data; // identical layouts
        }

        var result = new byte[data.Length];
        switch (itemSize)
        {
            case 1: FortranToC<byte>(data, result, shape); break;
            case 2: FortranToC<ushort>(data, result, shape); break;
            case 4: FortranToC<uint>(data, result, shape); break;
            case 8: FortranToC<ulong>(data, result, shape); break;
            default: throw new InvalidOperationException($"unexpected item size {itemSize}");
        }

        return result;
    }

    private static void FortranToC<T>(byte[] sourceBytes, byte[] destinationBytes, int[] shape)
        where T : unmanaged
    {
        ReadOnlySpan<T> source = MemoryMarshal.Cast<byte, T>(sourceBytes);
        Span<T> destination = MemoryMarshal.Cast<byte, T>(destinationBytes.AsSpan());
        int rank = shape.Length;

        // Fortran strides in elements: the first axis varies fastest. No dimension is zero here, so every
        // partial product is at most the element count and fits in an int.
        var stride = new int[rank];
        stride[0] = 1;
        for (int axis = 1; axis < rank; axis++)
        {
            stride[axis] = stride[axis - 1] * shape[axis - 1];
        }

        // Walk destination (C) order: the last axis is the inner loop; the others are an odometer.
        var index = new int[rank - 1];
        int inner = shape[rank - 1];
        int innerStride = stride[rank - 1];
        int sourceBase = 0;
        int written = 0;
        while (written < destination.Length)
        {
            int s = sourceBase;
            for (int j = 0; j < inner; j++, s += innerStride)
            {
                destination[written++] = source[s];
            }

            for (int axis = rank - 2; axis >= 0; axis--)
            {
                sourceBase += stride[axis];
                if (++index[axis] < shape[axis])
                {
                    break;
                }

                sourceBase -= stride[axis] * shape[axis];
                index[axis] = 0;
            }
        }
    }

    private static string Hex(ReadOnlySpan<byte> bytes) => string.Join(' ', bytes.ToArray().Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
