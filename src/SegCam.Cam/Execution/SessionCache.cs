namespace SegCam.Cam.Execution;

/// <summary>
/// A bounded cache of compiled sessions, least recently used out. A session is built once per key (concurrent callers
/// of the same key wait for the one build); callers hold a <see cref="Lease"/> while they run it, and a session pushed
/// out of the cache is disposed when its last lease ends, never under a running request. A build that fails is
/// forgotten, so the next call tries again.
/// </summary>
/// <typeparam name="T">The session type.</typeparam>
internal sealed class SessionCache<T> : IDisposable
    where T : class, IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _clock;
    private bool _disposed;

    /// <summary>Creates a cache holding at most <paramref name="capacity"/> sessions (at least 1).</summary>
    public SessionCache(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    /// <summary>The most sessions kept.</summary>
    public int Capacity { get; }

    /// <summary>Sessions currently cached (built or being built).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>The session for <paramref name="key"/>, built by <paramref name="build"/> if it is not cached.</summary>
    public Lease Acquire(string key, Func<T> build)
    {
        ArgumentNullException.ThrowIfNull(build);
        Entry entry;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_entries.TryGetValue(key, out entry!))
            {
                entry = new Entry(new Lazy<T>(build, LazyThreadSafetyMode.ExecutionAndPublication));
                _entries[key] = entry;
            }

            entry.Leases++;
            entry.LastUse = ++_clock;
        }

        T value;
        try
        {
            value = entry.Session.Value; // built outside the lock: other keys need not wait for a compilation
        }
        catch
        {
            lock (_gate)
            {
                entry.Leases--;
                if (_entries.TryGetValue(key, out var cached) && ReferenceEquals(cached, entry))
                {
                    _entries.Remove(key);
                }
            }

            throw;
        }

        DisposeAll(EvictBeyondCapacity(entry));
        return new Lease(this, entry, value);
    }

    /// <summary>Disposes every built session now, or when its last lease ends; the cache refuses new work afterwards.</summary>
    public void Dispose()
    {
        var doomed = new List<T>();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var entry in _entries.Values)
            {
                entry.Evicted = true;
                if (entry.Leases == 0 && entry.Session.IsValueCreated)
                {
                    doomed.Add(entry.Session.Value);
                }
            }

            _entries.Clear();
        }

        DisposeAll(doomed);
    }

    private List<T> EvictBeyondCapacity(Entry keep)
    {
        var doomed = new List<T>();
        lock (_gate)
        {
            while (_entries.Count > Capacity)
            {
                var (key, oldest) = _entries.Where(kv => !ReferenceEquals(kv.Value, keep)).MinBy(kv => kv.Value.LastUse);
                _entries.Remove(key);
                oldest.Evicted = true;
                if (oldest.Leases == 0 && oldest.Session.IsValueCreated)
                {
                    doomed.Add(oldest.Session.Value);
                }
            }
        }

        return doomed;
    }

    private void Release(Entry entry)
    {
        T? doomed = null;
        lock (_gate)
        {
            entry.Leases--;
            if (entry.Evicted && entry.Leases == 0 && entry.Session.IsValueCreated)
            {
                doomed = entry.Session.Value;
            }
        }

        doomed?.Dispose();
    }

    private static void DisposeAll(List<T> sessions)
    {
        foreach (var session in sessions)
        {
            session.Dispose();
        }
    }

    /// <summary>Use of one cached session; dispose it when the run is over.</summary>
    public sealed class Lease : IDisposable
    {
        private readonly SessionCache<T> _cache;
        private readonly Entry _entry;
        private int _released;

        internal Lease(SessionCache<T> cache, Entry entry, T session)
        {
            _cache = cache;
            _entry = entry;
            Session = session;
        }

        /// <summary>The session, valid until this lease is disposed.</summary>
        public T Session { get; }

        /// <summary>Ends the use; the session is disposed now if it was evicted meanwhile.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                _cache.Release(_entry);
            }
        }
    }

    internal sealed class Entry(Lazy<T> session)
    {
        public Lazy<T> Session { get; } = session;

        public int Leases { get; set; }

        public long LastUse { get; set; }

        public bool Evicted { get; set; }
    }
}
