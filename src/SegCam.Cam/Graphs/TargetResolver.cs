using SegCam.Common.Errors;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Protocol;

namespace SegCam.Cam.Graphs;

/// <summary>How the model's output relates to its logits.</summary>
/// <param name="Logits">The logits tensor, laid out like the output (N, classes, spatial…).</param>
/// <param name="FinalActivation">"Softmax", "LogSoftmax", "Sigmoid", or null when the output is the logits.</param>
public sealed record ModelTarget(string Logits, string? FinalActivation);

/// <summary>
/// Finds the logits (METHODS.md §6 item 11): when the graph ends in Softmax/Sigmoid/LogSoftmax — possibly
/// wrapped in layout ops, as PyTorch exports a channel softmax at opsets below 13 (Transpose, Softmax, Transpose) —
/// the logits are that activation's input, traced back through the same layout ops.
/// </summary>
internal static class TargetResolver
{
    private static readonly HashSet<string> LayoutOps = new(StringComparer.Ordinal) { "Transpose", "Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten" };
    private static readonly HashSet<string> Activations = new(StringComparer.Ordinal) { "Softmax", "LogSoftmax", "Sigmoid" };

    public static ModelTarget Resolve(GraphIndex index, IReadOnlyDictionary<string, TensorInfo> info, string output)
    {
        var tensor = SkipLayout(index, output);
        var producer = index.Producer(tensor);
        if (producer is null || !Activations.Contains(producer.OpType) || producer.Domain.Length > 0)
        {
            return new ModelTarget(output, null);
        }

        var logits = SkipLayout(index, producer.Input[0]);
        if (!info.TryGetValue(logits, out var l) || !info.TryGetValue(output, out var o) || !l.Shape.SequenceEqual(o.Shape))
        {
            throw new ModelFormatException(
                $"the model output '{output}' ends in {producer.OpType}, but its logits could not be traced back to a tensor shaped like the output; use --target probabilities");
        }

        return new ModelTarget(logits, producer.OpType);
    }

    private static string SkipLayout(GraphIndex index, string tensor)
    {
        while (index.Producer(tensor) is { } node && LayoutOps.Contains(node.OpType) && node.Domain.Length == 0)
        {
            tensor = node.Input[0];
        }

        return tensor;
    }
}
