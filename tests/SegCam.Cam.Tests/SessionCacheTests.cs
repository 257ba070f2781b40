using SegCam.Cam.Execution;

namespace SegCam.Cam.Tests;

/// <summary>The bounded session cache: least recently used out, never disposed under a lease, one build per key.</summary>
public sealed class SessionCacheTests
{
    [Fact]
    public void The_least_recently_used_session_goes_when_the_cache_is_full()
    {
        using var cache = new SessionCache<Probe>(2);
        var a = Use(cache, "a");
        var b = Use(cache, "b");
        Use(cache, "a"); // a is now more recent than b
        var c = Use(cache, "c");

        Assert.Equal(2, cache.Count);
        Assert.True(b.Disposed);
        Assert.False(a.Disposed);
        Assert.False(c.Disposed);
        Assert.Same(a, Use(cache, "a"));
        Assert.NotSame(b, Use(cache, "b")); // rebuilt on demand
    }

    [Fact]
    public void An_evicted_session_is_disposed_only_when_its_last_lease_ends()
    {
        using var cache = new SessionCache<Probe>(1);
        var held = cache.Acquire("a", () => new Probe());
        var second = cache.Acquire("a", () => new Probe());
        Use(cache, "b"); // evicts a while two requests still run it

        Assert.False(held.Session.Disposed);
        held.Dispose();
        held.Dispose(); // a lease ends once
        Assert.False(second.Session.Disposed);
        second.Dispose();
        Assert.True(second.Session.Disposed);
    }

    [Fact]
    public async Task Concurrent_callers_of_one_key_share_one_build()
    {
        using var cache = new SessionCache<Probe>(4);
        var builds = 0;
        Probe Build()
        {
            Interlocked.Increment(ref builds);
            Thread.Sleep(50);
            return new Probe();
        }

        var sessions = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            using var lease = cache.Acquire("k", Build);
            return lease.Session;
        }, TestContext.Current.CancellationToken)));

        Assert.Equal(1, builds);
        Assert.All(sessions, s => Assert.Same(sessions[0], s));
    }

    [Fact]
    public void A_failed_build_is_forgotten_and_tried_again()
    {
        using var cache = new SessionCache<Probe>(2);
        Assert.Throws<InvalidOperationException>(() => cache.Acquire("k", () => throw new InvalidOperationException("compile failed")));
        Assert.Equal(0, cache.Count);
        using var lease = cache.Acquire("k", () => new Probe());
        Assert.False(lease.Session.Disposed);
    }

    [Fact]
    public void Disposing_the_cache_disposes_idle_sessions_now_and_leased_ones_at_release()
    {
        var cache = new SessionCache<Probe>(4);
        var idle = Use(cache, "idle");
        var lease = cache.Acquire("busy", () => new Probe());
        cache.Dispose();

        Assert.True(idle.Disposed);
        Assert.False(lease.Session.Disposed);
        lease.Dispose();
        Assert.True(lease.Session.Disposed);
        Assert.Throws<ObjectDisposedException>(() => cache.Acquire("x", () => new Probe()));
    }

    [Fact]
    public void A_cache_holds_at_least_one_session()
        => Assert.Throws<ArgumentOutOfRangeException>(() => new SessionCache<Probe>(0));

    private static Probe Use(SessionCache<Probe> cache, string key)
    {
        using var lease = cache.Acquire(key, () => new Probe());
        return lease.Session;
    }

    internal sealed class Probe : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }
}
