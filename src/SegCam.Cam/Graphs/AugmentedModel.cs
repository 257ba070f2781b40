using SegCam.Cam.Methods;
using SegCam.Onnx.Protocol;

namespace SegCam.Cam.Graphs;

/// <summary>The outputs of one target layer: its CAMs, and (when asked for) its activation and gradient.</summary>
internal sealed record LayerHead(string Activation, long[] ActivationShape, IReadOnlyDictionary<CamMethod, string> CamOutputs, string? ActivationOutput, string? GradientOutput);

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

    /// <summary>One head per target layer, in request order; every head shares the forward and the backward sweep.</summary>
    public required IReadOnlyList<LayerHead> Heads { get; init; }

    /// <summary>Number of classes (channels of the logits).</summary>
    public long Classes => LogitsShape[1];

    /// <summary>The output grid's spatial extent (empty for a classifier).</summary>
    public long[] OutputSpatial => LogitsShape[2..];
}
