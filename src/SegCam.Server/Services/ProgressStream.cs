using System.Threading.Channels;
using SegCam.Pipelines;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Server.Services;

/// <summary>
/// Carries progress from a computation running on a worker thread to the call's response stream: the worker reports
/// without blocking (old reports are dropped when the client reads slowly), the call writes them in order.
/// </summary>
internal sealed class ProgressStream : IProgress<PipelineProgress>
{
    private readonly Channel<Proto.Progress> _channel = Channel.CreateBounded<Proto.Progress>(new BoundedChannelOptions(16)
    {
        FullMode = BoundedChannelFullMode.DropOldest,
        SingleReader = true,
    });

    public void Report(PipelineProgress value) => Post(value.Stage, value.Done, value.Total, value.Elapsed, value.Remaining);

    /// <summary>Posts a progress event.</summary>
    public void Post(string stage, int done, int total, TimeSpan elapsed, TimeSpan? remaining)
    {
        var p = new Proto.Progress { Stage = stage, Done = done, Total = total, ElapsedSeconds = elapsed.TotalSeconds };
        if (remaining is { } r)
        {
            p.RemainingSeconds = r.TotalSeconds;
        }

        _channel.Writer.TryWrite(p);
    }

    /// <summary>Runs <paramref name="work"/> on a worker thread and writes its progress with <paramref name="write"/> until it ends.</summary>
    public async Task<T> RunAsync<T>(Func<T> work, Func<Proto.Progress, Task> write, CancellationToken cancellationToken)
    {
        // Not Task.Run(…, token): a token cancelled before the task starts would skip the delegate, leaving the
        // channel open and this call (and its queue slot) waiting forever. The work checks the token itself.
        var task = Task.Run(() =>
        {
            try
            {
                return work();
            }
            finally
            {
                _channel.Writer.TryComplete();
            }
        }, CancellationToken.None);
        await foreach (var p in _channel.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (!cancellationToken.IsCancellationRequested)
            {
                await write(p).ConfigureAwait(false);
            }
        }

        return await task.ConfigureAwait(false);
    }
}
