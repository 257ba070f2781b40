namespace SegCam.Volumes.Formats.MetaImage;

/// <summary>
/// A forward-only, read-only window of at most <c>length</c> bytes of another stream from its current position, so a
/// decompressor never reads past the compressed data the header declares. Disposing it leaves the inner stream open.
/// </summary>
internal sealed class BoundedReadStream(Stream inner, long length) : Stream
{
    private long _remaining = length;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_remaining <= 0 || buffer.IsEmpty)
        {
            return 0;
        }

        var n = inner.Read(buffer[..(int)Math.Min(buffer.Length, _remaining)]);
        _remaining -= n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
