using SegCam.Pipelines;

namespace SegCam.Cli.Commands;

/// <summary>Progress lines on stderr (stdout carries results only).</summary>
internal sealed class ProgressPrinter(TextWriter writer) : IProgress<PipelineProgress>
{
    public static ProgressPrinter To(TextWriter writer) => new(writer);

    public void Report(PipelineProgress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var eta = value.Remaining is { } r ? $", about {r.TotalSeconds:F0} s left" : string.Empty;
        writer.WriteLine($"segcam: {value.Stage} {value.Done}/{value.Total}{eta}");
    }
}
