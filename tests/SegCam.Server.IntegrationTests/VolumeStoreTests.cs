using SegCam.Common.Errors;
using SegCam.Server.IntegrationTests.Infrastructure;
using SegCam.Server.Storage;

namespace SegCam.Server.IntegrationTests;

/// <summary>The store forgets idle volumes, counts bytes exactly, and keeps identical content once.</summary>
public sealed class VolumeStoreTests
{
    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void Volumes_idle_longer_than_the_limit_are_forgotten_and_their_bytes_freed_but_used_ones_stay()
    {
        var time = new ManualTime();
        using var store = new VolumeStore(1 << 20, TimeSpan.FromMinutes(10), time);
        var a = TestVolumes.Ct(16, 16, 2, seed: 1);
        var b = TestVolumes.Ct(16, 16, 2, seed: 2);
        store.Reserve(2048);
        store.Add("vol-a", a, "sha-a", 2048);
        store.Reserve(2048);
        store.Add("vol-b", b, "sha-b", 2048);
        Assert.Equal(4096, store.Bytes);

        time.Now += TimeSpan.FromMinutes(8);
        store.Get("vol-a", "volume_id"); // used: its idle clock restarts
        time.Now += TimeSpan.FromMinutes(4);
        store.Sweep();

        Assert.Same(a, store.Get("vol-a", "volume_id").Volume);
        var error = Assert.Throws<VolumeNotFoundException>(() => store.Get("vol-b", "volume_id"));
        Assert.Contains("forgotten after 10 idle minutes", error.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorKind.NotFound, error.Kind);
        Assert.Equal(2048, store.Bytes);
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public void Identical_content_is_kept_once_and_its_second_reservation_released()
    {
        using var store = new VolumeStore(10_000, TimeSpan.FromMinutes(10), new ManualTime());
        var volume = TestVolumes.Ct(16, 16, 2, seed: 1);
        store.Reserve(2048);
        Assert.False(store.Add("vol-x", volume, "sha", 2048).Existed);
        store.Reserve(2048);
        Assert.True(store.Add("vol-x", volume, "sha", 2048).Existed);
        Assert.Equal(2048, store.Bytes);
        Assert.Throws<ResourceLimitException>(() => store.Reserve(9000));
        Assert.True(store.Delete("vol-x"));
        Assert.Equal(0, store.Bytes);
    }
}
