using System.Threading.Channels;
using SegCam.Pipelines;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Server.Services;

/// <summary>
/// Carries what a computation on a worker thread reports — progress, and heatmap slices that became final — to the
/// call's handler, which alone writes the response stream, in order. The worker never blocks on a slow client.
/// </summary>
internal sealed class ProgressStream : IProgress<PipelineProgress>, IProgress<FinalSlices>
{
    private readonly Channel<object> _channel = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });

    public void Report(PipelineProgress value) => Post(value.Stage, value.Done, value.Total, value.Elapsed, value.Remaining);

    public void Report(FinalSlices value) => _channel.Writer.TryWrite(value);

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

    /// <summary>
    /// Runs <paramref name="work"/> on a worker thread and hands its reports to <paramref name="progress"/> and
    /// <paramref name="final"/> (on this call's context) until it ends.
    /// </summary>
    public async Task<T> RunAsync<T>(Func<T> work, Func<Proto.Progress, Task> progress, Func<FinalSlices, Task>? final, CancellationToken cancellationToken)
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
        await foreach (var item in _channel.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (cancellationToken.IsCancellationRequested)
            {
                continue; // drain until the worker stops; nothing more goes to a cancelled call
            }

            if (item is Proto.Progress p)
            {
                await progress(p).ConfigureAwait(false);
            }
            else if (item is FinalSlices f && final is not null)
            {
                await final(f).ConfigureAwait(false);
            }
        }

        return await task.ConfigureAwait(false);
    }
}
