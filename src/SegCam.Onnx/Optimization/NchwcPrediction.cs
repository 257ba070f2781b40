using SegCam.Onnx.Graph;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Optimization;

/// <summary>
/// Predicts which float32 rank-4 tensors (rank unknown counts as 4) ONNX Runtime's CPU NCHWc transformer will produce in its blocked layout, so
/// a rewrite can choose between a form that stays blocked and one that is cheaper in plain NCHW. It follows the
/// transformer's rules (ORT 1.31): a Conv with a constant float weight whose channels it can block starts a blocked
/// tensor; pooling, nearest Resize, Relu/Sigmoid/Tanh and BatchNormalization keep a blocked input blocked;
/// Add/Sum/Mul are blocked when all their inputs are, Concat when they are and each is a whole number of blocks.
/// Anything else (Slice, Reshape, ScatterElements, Cast, …) reads and writes NCHW. A wrong guess costs time, never
/// correctness: ORT inserts whatever reorders the graph needs.
/// </summary>
internal sealed class NchwcPrediction(GraphIndex index, Func<string, long[]?> shapeOf, long block)
{
    private readonly Dictionary<string, bool> _known = new(StringComparer.Ordinal);

    /// <summary>Whether ORT is expected to produce <paramref name="tensor"/> in the blocked layout.</summary>
    public bool IsBlocked(string tensor)
    {
        if (_known.TryGetValue(tensor, out var known))
        {
            return known;
        }

        _known[tensor] = false; // cycle guard; graphs are acyclic, but a malformed one must not recurse forever
        var result = index.Producer(tensor) is { } node && shapeOf(tensor) is null or { Length: 4 } && Produces(node);
        _known[tensor] = result;
        return result;
    }

    private bool Produces(NodeProto node)
    {
        var inputs = node.Input.Where(i => i.Length > 0).ToArray();
        return node.OpType switch
        {
            "Conv" => BlockableConv(node),
            "MaxPool" => node.Output.Count == 1 && IsBlocked(inputs[0]),
            "AveragePool" or "GlobalAveragePool" or "GlobalMaxPool" or "Relu" or "Sigmoid" or "Tanh" or "BatchNormalization"
                => IsBlocked(inputs[0]),
            "Resize" or "Upsample" => IsNearest(node) && IsBlocked(inputs[0]),
            "Add" or "Sum" or "Mul" => inputs.All(IsBlocked),
            "Concat" => inputs.All(i => IsBlocked(i) && shapeOf(i) is { } s && s[1] % block == 0),
            _ => false,
        };
    }

    private static bool IsNearest(NodeProto resize) =>
        resize.Attribute.FirstOrDefault(a => a.Name == "mode") is not { } mode || mode.S.ToStringUtf8() == "nearest";

    private bool BlockableConv(NodeProto conv)
    {
        if (conv.Input.Count < 2 || index.Initializer(conv.Input[1]) is not { DataType: Model.TensorValues.Float, Dims.Count: 4 } weight)
        {
            return false;
        }

        var (outputs, inputsPerGroup) = (weight.Dims[0], weight.Dims[1]);
        var group = conv.Attribute.FirstOrDefault(a => a.Name == "group")?.I ?? 1;
        if (group > 1)
        {
            var depthwise = inputsPerGroup == 1 && outputs == group;
            return outputs % block == 0 && (depthwise || (inputsPerGroup % block == 0 && outputs / group % block == 0));
        }

        return inputsPerGroup < block || inputsPerGroup % block == 0;
    }
}
