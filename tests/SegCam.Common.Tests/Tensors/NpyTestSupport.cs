using System.Buffers.Binary;
using System.Text;

namespace SegCam.Common.Tests.Tensors;

/// <summary>Helpers shared by the .npy tests.</summary>
internal static class NpyTestSupport
{
    private const string DataFolder = "tests/SegCam.Common.Tests/Data";

    /// <summary>The committed NumPy files, found by walking up from the test binaries to the repository.</summary>
    public static string DataPath(string fileName)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, DataFolder);
            if (Directory.Exists(candidate))
            {
                return Path.Combine(candidate, fileName);
            }
        }

        throw new DirectoryNotFoundException($"no {DataFolder} above {AppContext.BaseDirectory}");
    }

    /// <summary>
    /// A hand-made .npy image: preamble for <paramref name="major"/>.0, the header text padded like NumPy pads it,
    /// then <paramref name="data"/>. <paramref name="declaredHeaderLength"/> overrides the length field.
    /// </summary>
    public static byte[] Npy(string header, byte[]? data = null, int major = 1, long? declaredHeaderLength = null, bool pad = true)
    {
        int preamble = major == 1 ? 10 : 12;
        string text = header;
        if (pad)
        {
            int unpadded = preamble + header.Length + 1;
            text = header + new string(' ', (64 - (unpadded % 64)) % 64) + "\n";
        }

        byte[] headerBytes = major == 3 ? Encoding.UTF8.GetBytes(text) : Encoding.Latin1.GetBytes(text);
        var result = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0 };
        long length = declaredHeaderLength ?? headerBytes.Length;
        var lengthBytes = new byte[major == 1 ? 2 : 4];
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(lengthBytes, (ushort)length);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(lengthBytes, (uint)length);
        }

        result.AddRange(lengthBytes);
        result.AddRange(headerBytes);
        result.AddRange(data ?? []);
        return [.. result];
    }

    /// <summary>A header dict in NumPy's spelling.</summary>
    public static string Header(string descr, string shape, bool fortran = false) =>
        $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shape}, }}";

    /// <summary>A stream that hides its length, like a pipe.</summary>
    public sealed class NonSeekableStream(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, 7));

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
