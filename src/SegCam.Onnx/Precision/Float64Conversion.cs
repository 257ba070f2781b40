using SegCam.Common.Errors;
using SegCam.Onnx.Autodiff;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Precision;

/// <summary>
/// Rewrites a float32 model to compute in float64 end to end, as PyTorch autograd does in double: float inputs are cast
/// up on entry and float outputs cast back on exit (the interface stays float32), every float32 constant, cast and
/// constant-producing node becomes float64, and the operators ONNX Runtime runs in float32 only are replaced by
/// float64-capable compositions (<see cref="DoubleLowering"/>).
/// </summary>
public static class Float64Conversion
{
    /// <summary>
    /// Converts <paramref name="model"/> (not modified). <paramref name="shapes"/> returns the probed info of the named
    /// tensors of the float32 model (the lowerings need static shapes and small constant values). With
    /// <paramref name="float32Outputs"/> false the float outputs stay float64.
    /// </summary>
    public static ModelProto Convert(ModelProto model, Func<IReadOnlyCollection<string>, IReadOnlyDictionary<string, TensorInfo>> shapes, bool float32Outputs = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(shapes);
        var result = model.Clone();
        var graph = result.Graph;
        var opset = (int)(result.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version
                          ?? throw new ModelFormatException("the model imports no default-domain opset"));
        var nodes = graph.Node.ToList();
        var lowered = nodes.Where(n => n.Domain is "" or "ai.onnx" && DoubleLowering.Handles(n.OpType)).ToList();
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in nodes)
        {
            foreach (var o in n.Output)
            {
                producers[o] = n;
            }
        }

        // The lowered nodes' tensors, and for Erf the inputs of its producer (the GELU scaling constant).
        var needed = lowered.SelectMany(n => n.Input.Concat(n.Output))
            .Concat(lowered.Where(n => n.OpType == "Erf").SelectMany(n => producers.TryGetValue(n.Input[0], out var p) ? p.Input : []))
            .Where(t => t.Length > 0).ToHashSet(StringComparer.Ordinal);
        var info = needed.Count == 0 ? [] : new Dictionary<string, TensorInfo>(shapes(needed), StringComparer.Ordinal);

        var b = new GraphBuilder(graph, opset, TensorValues.Double);
        var entry = new List<NodeProto>();
        foreach (var input in graph.Input.Where(i => IsFloat32(i.Type) && graph.Initializer.All(t => t.Name != i.Name)))
        {
            // The interface keeps its float32 input; every consumer reads the float64 copy.
            var inner = b.UniqueName(input.Name + "/float64");
            RenameUses(nodes, input.Name, inner);
            if (info.TryGetValue(input.Name, out var known))
            {
                info[inner] = known;
            }

            entry.Add(CastNode(input.Name, inner, TensorValues.Double, b));
        }

        foreach (var t in graph.Initializer.Where(t => t.DataType == TensorValues.Float).ToList())
        {
            var converted = TensorValues.FromDoubles(t.Name, TensorValues.Double, TensorValues.ToDoubles(t), [.. t.Dims]);
            graph.Initializer[graph.Initializer.IndexOf(t)] = converted;
        }

        graph.ValueInfo.Clear();
        graph.Node.Clear();
        graph.Node.AddRange(entry);
        foreach (var node in nodes)
        {
            if (lowered.Contains(node) && IsFloatValued(node, info))
            {
                var context = new RuleContext(node, b, info, [], []);
                b.Op("Identity", "f64/" + node.Name, [DoubleLowering.Lower(context, t => producers.GetValueOrDefault(t))]);
                graph.Node[^1].Output[0] = node.Output[0];
                continue;
            }

            Retype(node);
            graph.Node.Add(node);
        }

        foreach (var output in graph.Output.Where(o => IsFloat32(o.Type)))
        {
            if (!float32Outputs)
            {
                output.Type.TensorType.ElemType = TensorValues.Double;
                continue;
            }

            var original = output.Name;
            var inner = b.UniqueName(original + "/float64");
            Rename(graph, original, inner);
            graph.Node.Add(CastNode(inner, original, TensorValues.Float, b));
        }

        return result;
    }

    private static bool IsFloat32(TypeProto? type) => type?.TensorType is { ElemType: TensorValues.Float };

    // A lowered op whose output is not a float (e.g. an integer Clip on shapes) keeps its original form.
    private static bool IsFloatValued(NodeProto node, Dictionary<string, TensorInfo> info)
        => info.TryGetValue(node.Output[0], out var t) && t.ElemType == TensorValues.Float;

    private static NodeProto CastNode(string from, string to, int type, GraphBuilder b)
    {
        var node = new NodeProto { OpType = "Cast", Name = b.UniqueName("n/f64/cast") };
        node.Input.Add(from);
        node.Output.Add(to);
        node.Attribute.Add(Attr.Int("to", type));
        return node;
    }

    // Every place a node fixes the float32 type itself: Cast targets and constant-producing attributes.
    private static void Retype(NodeProto node)
    {
        switch (node.OpType)
        {
            case "Cast":
                foreach (var a in node.Attribute.Where(a => a.Name == "to" && a.I == TensorValues.Float))
                {
                    a.I = TensorValues.Double;
                }

                break;
            case "Constant":
                RetypeConstant(node);
                break;
            case "ConstantOfShape":
                var value = node.Attribute.FirstOrDefault(a => a.Name == "value");
                if (value is null)
                {
                    node.Attribute.Add(Attr.Tensor("value", TensorValues.FromDoubles(string.Empty, TensorValues.Double, [0.0], 1)));
                }
                else if (value.T.DataType == TensorValues.Float)
                {
                    value.T = ToDouble(value.T);
                }

                break;
            case "EyeLike" or "RandomNormal" or "RandomUniform" or "RandomNormalLike" or "RandomUniformLike":
                foreach (var a in node.Attribute.Where(a => a.Name == "dtype" && a.I == TensorValues.Float))
                {
                    a.I = TensorValues.Double;
                }

                break;
        }
    }

    private static void RetypeConstant(NodeProto node)
    {
        for (var i = 0; i < node.Attribute.Count; i++)
        {
            var a = node.Attribute[i];
            switch (a.Name)
            {
                case "value" when a.T.DataType == TensorValues.Float:
                    a.T = ToDouble(a.T);
                    break;
                case "value_float":
                    node.Attribute[i] = Attr.Tensor("value", TensorValues.FromDoubles(string.Empty, TensorValues.Double, [a.F]));
                    break;
                case "value_floats":
                    node.Attribute[i] = Attr.Tensor("value", TensorValues.FromDoubles(string.Empty, TensorValues.Double, a.Floats.Select(f => (double)f).ToArray(), a.Floats.Count));
                    break;
            }
        }
    }

    private static TensorProto ToDouble(TensorProto t)
        => TensorValues.FromDoubles(t.Name, TensorValues.Double, TensorValues.ToDoubles(t), [.. t.Dims]);

    private static void RenameUses(IEnumerable<NodeProto> nodes, string from, string to)
    {
        foreach (var node in nodes)
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                if (node.Input[i] == from)
                {
                    node.Input[i] = to;
                }
            }
        }
    }

    private static void Rename(GraphProto graph, string from, string to)
    {
        RenameUses(graph.Node, from, to);
        foreach (var node in graph.Node)
        {
            for (var i = 0; i < node.Output.Count; i++)
            {
                if (node.Output[i] == from)
                {
                    node.Output[i] = to;
                }
            }
        }
    }
}
