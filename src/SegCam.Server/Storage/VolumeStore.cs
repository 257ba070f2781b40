using System.Collections.Concurrent;
using SegCam.Common.Errors;
using SegCam.Volumes;

namespace SegCam.Server.Storage;

/// <summary>
/// Uploaded volumes in memory, keyed by a content id (so identical uploads are kept once), forgotten after an idle
/// time, and capped in total bytes. Thread-safe.
/// </summary>
internal sealed class VolumeStore : IDisposable
{
    private readonly ConcurrentDictionary<string, StoredVolume> _volumes = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly ITimer _sweeper;
    private readonly object _gate = new();
    private long _bytes;

    public VolumeStore(long maxBytes, TimeSpan idle, TimeProvider time)
    {
        MaxBytes = maxBytes;
        Idle = idle;
        _time = time;
        var period = TimeSpan.FromTicks(Math.Clamp(idle.Ticks / 4, TimeSpan.TicksPerSecond, 30 * TimeSpan.TicksPerSecond));
        _sweeper = time.CreateTimer(_ => Sweep(), null, period, period);
    }

    public long MaxBytes { get; }

    public TimeSpan Idle { get; }

    /// <summary>Bytes held now.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    public int Count => _volumes.Count;

    /// <summary>Reserves room for an upload of <paramref name="bytes"/> (released by <see cref="Release"/> or kept by <see cref="Add"/>).</summary>
    public void Reserve(long bytes)
    {
        Sweep();
        lock (_gate)
        {
            if (_bytes + bytes > MaxBytes)
            {
                throw new ResourceLimitException($"the server's volume store is full: {bytes} more bytes would exceed its {MaxBytes} bytes ({_bytes} in use); delete volumes you no longer need (DeleteVolume) or retry later");
            }

            _bytes += bytes;
        }
    }

    /// <summary>Gives back a reservation that did not become a volume.</summary>
    public void Release(long bytes) => Interlocked.Add(ref _bytes, -bytes);

    /// <summary>Stores a completed upload (its bytes were reserved); returns the stored entry and whether it already existed.</summary>
    public (StoredVolume Entry, bool Existed) Add(string id, Volume volume, string sha256, long bytes)
    {
        var now = _time.GetUtcNow();
        var added = new StoredVolume(id, volume, sha256, bytes, now);
        var entry = _volumes.GetOrAdd(id, added);
        if (!ReferenceEquals(entry, added))
        {
            Release(bytes); // identical content is kept once
            entry.Touch(now);
            return (entry, true);
        }

        return (entry, false);
    }

    /// <summary>The volume <paramref name="id"/> (and marks it used), or NotFound.</summary>
    public StoredVolume Get(string id, string field)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw new InvalidRequestException($"{field} is empty; upload the volume first (UploadVolume) and pass the id it returns");
        }

        if (!_volumes.TryGetValue(id, out var entry) || Expired(entry, _time.GetUtcNow()))
        {
            throw new VolumeNotFoundException($"{field} '{id}' is not stored on this server (never uploaded, deleted, or forgotten after {Idle.TotalMinutes:0.#} idle minutes); upload it again");
        }

        entry.Touch(_time.GetUtcNow());
        return entry;
    }

    /// <summary>Forgets <paramref name="id"/>; false when it was not stored.</summary>
    public bool Delete(string id)
    {
        if (_volumes.TryRemove(id, out var entry))
        {
            Release(entry.Bytes);
            return true;
        }

        return false;
    }

    /// <summary>Forgets volumes idle longer than <see cref="Idle"/>.</summary>
    public void Sweep()
    {
        var now = _time.GetUtcNow();
        foreach (var entry in _volumes.Values)
        {
            if (Expired(entry, now) && _volumes.TryRemove(new KeyValuePair<string, StoredVolume>(entry.Id, entry)))
            {
                Release(entry.Bytes);
            }
        }
    }

    public void Dispose() => _sweeper.Dispose();

    private bool Expired(StoredVolume entry, DateTimeOffset now) => now - entry.LastUsed > Idle;
}

/// <summary>A volume id that the server does not hold.</summary>
internal sealed class VolumeNotFoundException(string message) : SegCamException(message)
{
    public override ErrorKind Kind => ErrorKind.NotFound;
}
