using SegCam.Volumes;

namespace SegCam.Server.Storage;

/// <summary>An uploaded volume, its content hash, and when it was last used.</summary>
internal sealed class StoredVolume(string id, Volume volume, string sha256, long bytes, DateTimeOffset now)
{
    private long _lastUsedTicks = now.UtcTicks;

    public string Id { get; } = id;

    public Volume Volume { get; } = volume;

    /// <summary>Hex SHA-256 of the voxel bytes.</summary>
    public string Sha256 { get; } = sha256;

    public long Bytes { get; } = bytes;

    public DateTimeOffset LastUsed => new(Interlocked.Read(ref _lastUsedTicks), TimeSpan.Zero);

    public void Touch(DateTimeOffset now) => Interlocked.Exchange(ref _lastUsedTicks, now.UtcTicks);
}
