using SegCam.Common.Errors;

namespace SegCam.Server.Work;

/// <summary>
/// A bounded queue in front of the engine: at most <see cref="MaxConcurrent"/> computations run at once and at most
/// <see cref="MaxQueued"/> wait; a request beyond that is refused (RESOURCE_EXHAUSTED) instead of piling up memory.
/// </summary>
internal sealed class WorkQueue(int maxConcurrent, int maxQueued)
{
    private readonly SemaphoreSlim _slots = new(maxConcurrent, maxConcurrent);
    private int _waiting;
    private int _running;

    public int MaxConcurrent { get; } = maxConcurrent;

    public int MaxQueued { get; } = maxQueued;

    /// <summary>Requests waiting for a slot now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Computations running now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Waits for a slot (reporting the queue position while waiting); dispose the lease to free it.</summary>
    public async Task<IDisposable> EnterAsync(Func<int, Task>? queued, CancellationToken cancellationToken)
    {
        if (_slots.Wait(0, CancellationToken.None))
        {
            Interlocked.Increment(ref _running);
            return new Lease(this);
        }

        var position = Interlocked.Increment(ref _waiting);
        try
        {
            if (position > MaxQueued)
            {
                throw new ResourceLimitException($"the server is busy: {Running} computations running and {MaxQueued} waiting (its limits); retry later");
            }

            if (queued is not null)
            {
                await queued(position).ConfigureAwait(false);
            }

            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _running);
            return new Lease(this);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    private sealed class Lease(WorkQueue queue) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref queue._running);
                queue._slots.Release();
            }
        }
    }
}
