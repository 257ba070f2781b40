using SegCam.Cam.Methods;
using SegCam.Onnx.Protocol;

namespace SegCam.Cam.Graphs;

/// <summary>A model with its backward sub-graph, CAM head and request inputs appended, specialised to one input shape.</summary>
internal sealed record AugmentedModel
{
    public required ModelProto Model { get; init; }

    public required string Input { get; init; }

    public required long[] InputShape { get; init; }

    public required string MaskInput { get; init; }

    public required string ClassInput { get; init; }

    public required string PredictedInput { get; init; }

    public required string LogitsOutput { get; init; }

    public required long[] LogitsShape { get; init; }

    public required string PixelCountOutput { get; init; }

    public required IReadOnlyDictionary<CamMethod, string> CamOutputs { get; init; }

    public required string Activation { get; init; }

    public required long[] ActivationShape { get; init; }

    public string? ActivationOutput { get; init; }

    public string? GradientOutput { get; init; }

    /// <summary>Number of classes (channels of the logits).</summary>
    public long Classes => LogitsShape[1];

    /// <summary>The output grid's spatial extent (empty for a classifier).</summary>
    public long[] OutputSpatial => LogitsShape[2..];
}
