using System.Diagnostics;

namespace SegCam.Pipelines;

/// <summary>Progress reports of the volume pipelines.</summary>
internal static class ProgressReports
{
    /// <summary>Reports a stage's progress with an estimate of the time left.</summary>
    public static void Report(IProgress<PipelineProgress>? progress, string stage, int done, int total, Stopwatch clock)
    {
        if (progress is null)
        {
            return;
        }

        var elapsed = clock.Elapsed;
        TimeSpan? remaining = done > 0 ? elapsed / done * (total - done) : null;
        progress.Report(new PipelineProgress(stage, done, total, elapsed, remaining));
    }
}
