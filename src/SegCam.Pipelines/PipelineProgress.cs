namespace SegCam.Pipelines;

/// <summary>Progress of a volumetric run: a stage, units done of a total, and an estimate of the time left.</summary>
public sealed record PipelineProgress(string Stage, int Done, int Total, TimeSpan Elapsed, TimeSpan? Remaining);
