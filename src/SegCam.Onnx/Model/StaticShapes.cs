using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Model;

/// <summary>Pins a graph input to one concrete shape.</summary>
/// <remarks>
/// Sessions are compiled per input shape anyway; with concrete dims ORT's shape inference knows every tensor's
/// shape, which some of its layout optimisations need (the CPU NCHWc transformer keeps an element-wise Mul in the
/// blocked layout only when it can prove both operands have the same shape).
/// </remarks>
public static class StaticShapes
{
    /// <summary>Sets <paramref name="input"/>'s dims to <paramref name="shape"/> and drops the graph's intermediate shape annotations.</summary>
    public static void Pin(GraphProto graph, string input, IReadOnlyList<long> shape)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(shape);
        var declared = graph.Input.FirstOrDefault(i => i.Name == input) ?? throw new ArgumentException($"'{input}' is not an input of the graph", nameof(input));
        var tensor = declared.Type?.TensorType ?? throw new ArgumentException($"input '{input}' is not a tensor", nameof(input));
        tensor.Shape = new TensorShapeProto();
        foreach (var d in shape)
        {
            tensor.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        // Annotations written for symbolic dims would contradict the pinned ones; ORT infers them again.
        graph.ValueInfo.Clear();
    }
}
