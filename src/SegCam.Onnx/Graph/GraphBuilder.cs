using Google.Protobuf;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Graph;

/// <summary>
/// Appends nodes and initializers to a graph with unique <c>__segcam__/</c> names, choosing the
/// operator form that is valid at the model's default-domain opset (AUTODIFF.md 1.4).
/// </summary>
public sealed class GraphBuilder
{
    /// <summary>Prefix of every name the engine adds to a model.</summary>
    public const string Prefix = "__segcam__/";

    private readonly GraphProto _graph;
    private readonly HashSet<string> _names;
    private readonly Dictionary<string, string> _constants;

    /// <summary>Creates a builder over <paramref name="graph"/>; <paramref name="floatType"/> is the element type of emitted float constants.</summary>
    public GraphBuilder(GraphProto graph, int opset, int floatType = TensorValues.Float)
    {
        _graph = graph;
        Opset = opset;
        FloatType = floatType;
        _names = CollectNames(graph);
        _constants = new(StringComparer.Ordinal);
    }

    private GraphBuilder(GraphBuilder other, int floatType)
    {
        _graph = other._graph;
        Opset = other.Opset;
        FloatType = floatType;
        _names = other._names;
        _constants = other._constants;
    }

    /// <summary>A builder over the same graph and names whose float constants have <paramref name="floatType"/>.</summary>
    public GraphBuilder WithFloatType(int floatType) => floatType == FloatType ? this : new GraphBuilder(this, floatType);

    /// <summary>The default-domain opset the emitted nodes must be valid at.</summary>
    public int Opset { get; }

    /// <summary>Element type of float constants (float32, or float64 in double-precision tests).</summary>
    public int FloatType { get; }

    /// <summary>The graph being extended.</summary>
    public GraphProto Graph => _graph;

    /// <summary>A name not used anywhere in the graph, derived from <paramref name="hint"/>.</summary>
    public string UniqueName(string hint)
    {
        var baseName = hint.StartsWith(Prefix, StringComparison.Ordinal) ? hint : Prefix + hint;
        var name = baseName;
        for (var i = 1; !_names.Add(name); i++)
        {
            name = baseName + "#" + i;
        }

        return name;
    }

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Op(string opType, string hint, IEnumerable<string> inputs, params AttributeProto[] attributes)
        => OpMulti(opType, hint, inputs, 1, attributes)[0];

    /// <summary>Adds a node with <paramref name="outputs"/> outputs.</summary>
    public string[] OpMulti(string opType, string hint, IEnumerable<string> inputs, int outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = UniqueName("n/" + hint + "/" + opType) };
        node.Input.AddRange(inputs);
        var names = new string[outputs];
        for (var i = 0; i < outputs; i++)
        {
            names[i] = UniqueName(hint + (outputs > 1 ? "/" + i : string.Empty));
        }

        node.Output.AddRange(names);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return names;
    }

    /// <summary>The initializer named <paramref name="name"/> (an original weight), if any.</summary>
    public TensorProto? FindInitializer(string name)
    {
        _initializerIndex ??= _graph.Initializer.GroupBy(t => t.Name, StringComparer.Ordinal).ToDictionary(t => t.Key, t => t.First(), StringComparer.Ordinal);
        return _initializerIndex.GetValueOrDefault(name);
    }

    private Dictionary<string, TensorProto>? _initializerIndex;

    /// <summary>Adds an initializer built from <paramref name="tensor"/> (its name is replaced by a unique one).</summary>
    public string Initializer(TensorProto tensor, string hint)
    {
        tensor.Name = UniqueName("c/" + hint);
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>A 1-D int64 initializer (deduplicated).</summary>
    public string Ints(params long[] values)
    {
        var key = "i:" + string.Join(',', values);
        if (!_constants.TryGetValue(key, out var name))
        {
            name = Initializer(TensorValues.FromLongs(string.Empty, values, values.Length), "ints");
            _constants[key] = name;
        }

        return name;
    }

    /// <summary>A scalar (0-d) float constant of <see cref="FloatType"/> (deduplicated).</summary>
    public string Scalar(double value)
    {
        var key = "s" + FloatType + ":" + value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        if (!_constants.TryGetValue(key, out var name))
        {
            name = Initializer(TensorValues.FromDoubles(string.Empty, FloatType, [value]), "scalar");
            _constants[key] = name;
        }

        return name;
    }

    /// <summary>A float constant of <see cref="FloatType"/> with the given dims.</summary>
    public string Floats(ReadOnlySpan<double> values, long[] dims, string hint)
        => Initializer(TensorValues.FromDoubles(string.Empty, FloatType, values, dims), hint);

    /// <summary>Marks <paramref name="name"/> as a graph output of element type <paramref name="elemType"/>, shape unspecified.</summary>
    public void AddOutput(string name, int elemType)
    {
        var vi = new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType } } };
        _graph.Output.Add(vi);
    }

    /// <summary>Adds a graph input.</summary>
    public string AddInput(string hint, int elemType, long[] dims)
    {
        var name = UniqueName(hint);
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        _graph.Input.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } } });
        return name;
    }

    // ---- element-wise helpers -------------------------------------------------------------

    public string Add(string a, string b, string hint = "add") => Op("Add", hint, [a, b]);

    public string Sub(string a, string b, string hint = "sub") => Op("Sub", hint, [a, b]);

    public string Mul(string a, string b, string hint = "mul") => Op("Mul", hint, [a, b]);

    public string Div(string a, string b, string hint = "div") => Op("Div", hint, [a, b]);

    public string Neg(string a, string hint = "neg") => Op("Neg", hint, [a]);

    public string Where(string cond, string a, string b, string hint = "where") => Op("Where", hint, [cond, a, b]);

    public string Greater(string a, string b, string hint = "gt") => Op("Greater", hint, [a, b]);

    public string Less(string a, string b, string hint = "lt") => Op("Less", hint, [a, b]);

    public string Cast(string a, int to, string hint = "cast") => Op("Cast", hint, [a], Attr.Int("to", to));

    /// <summary>Sum of several tensors: Add for two, variadic Sum otherwise.</summary>
    public string SumOf(IReadOnlyList<string> terms, string hint)
    {
        if (terms.Count == 1)
        {
            return terms[0];
        }

        return terms.Count == 2 ? Add(terms[0], terms[1], hint) : Op("Sum", hint, terms);
    }

    // ---- opset-aware structural helpers ----------------------------------------------------

    /// <summary>ReduceSum over <paramref name="axes"/> (axes attribute before opset 13, input from 13).</summary>
    public string ReduceSum(string x, long[] axes, bool keepDims, string hint = "rsum")
        => Reduce("ReduceSum", 13, x, axes, keepDims, hint);

    /// <summary>ReduceMean over <paramref name="axes"/> (axes input from opset 18).</summary>
    public string ReduceMean(string x, long[] axes, bool keepDims, string hint = "rmean")
        => Reduce("ReduceMean", 18, x, axes, keepDims, hint);

    /// <summary>ReduceMax over <paramref name="axes"/> (axes input from opset 18).</summary>
    public string ReduceMax(string x, long[] axes, bool keepDims, string hint = "rmax")
        => Reduce("ReduceMax", 18, x, axes, keepDims, hint);

    /// <summary>ReduceMin over <paramref name="axes"/> (axes input from opset 18).</summary>
    public string ReduceMin(string x, long[] axes, bool keepDims, string hint = "rmin")
        => Reduce("ReduceMin", 18, x, axes, keepDims, hint);

    private string Reduce(string op, int axesInputSince, string x, long[] axes, bool keepDims, string hint)
    {
        var keep = Attr.Int("keepdims", keepDims ? 1 : 0);
        return Opset >= axesInputSince
            ? Op(op, hint, [x, Ints(axes)], keep)
            : Op(op, hint, [x], Attr.Ints("axes", axes), keep);
    }

    /// <summary>Unsqueeze (axes input from opset 13).</summary>
    public string Unsqueeze(string x, long[] axes, string hint = "unsq")
        => Opset >= 13 ? Op("Unsqueeze", hint, [x, Ints(axes)]) : Op("Unsqueeze", hint, [x], Attr.Ints("axes", axes));

    /// <summary>Squeeze (axes input from opset 13).</summary>
    public string Squeeze(string x, long[] axes, string hint = "sq")
        => Opset >= 13 ? Op("Squeeze", hint, [x, Ints(axes)]) : Op("Squeeze", hint, [x], Attr.Ints("axes", axes));

    /// <summary>Reshape to literal dims (no 0 or -1 semantics involved).</summary>
    public string Reshape(string x, long[] shape, string hint = "reshape") => Op("Reshape", hint, [x, Ints(shape)]);

    /// <summary>Expand to a static shape.</summary>
    public string Expand(string x, long[] shape, string hint = "expand") => Op("Expand", hint, [x, Ints(shape)]);

    /// <summary>Transpose with a permutation.</summary>
    public string Transpose(string x, long[] perm, string hint = "transpose") => Op("Transpose", hint, [x], Attr.Ints("perm", perm));

    /// <summary>Slice with static starts/ends/axes/steps.</summary>
    public string Slice(string x, long[] starts, long[] ends, long[] axes, long[]? steps = null, string hint = "slice")
    {
        var inputs = new List<string> { x, Ints(starts), Ints(ends), Ints(axes) };
        if (steps is not null)
        {
            inputs.Add(Ints(steps));
        }

        return Op("Slice", hint, inputs);
    }

    /// <summary>Constant-mode Pad with non-negative pads laid out as ONNX does (all begins, then all ends).</summary>
    public string Pad(string x, long[] pads, double value = 0.0, string hint = "pad")
    {
        if (pads.All(p => p == 0))
        {
            return x;
        }

        if (pads.Any(p => p < 0))
        {
            throw new InvalidOperationException("negative pads are never emitted; use Slice");
        }

        return Op("Pad", hint, [x, Ints(pads), Scalar(value)], Attr.Str("mode", "constant"));
    }

    /// <summary>A zero tensor of the given static shape and <see cref="FloatType"/>.</summary>
    public string Zeros(long[] shape, string hint = "zeros")
    {
        var zero = TensorValues.FromDoubles(string.Empty, FloatType, [0.0], 1);
        return Op("ConstantOfShape", hint, [Ints(shape)], Attr.Tensor("value", zero));
    }

    private static HashSet<string> CollectNames(GraphProto graph)
    {
        var names = new HashSet<string>(StringComparer.Ordinal) { string.Empty };
        void Visit(GraphProto g)
        {
            foreach (var n in g.Node)
            {
                names.Add(n.Name);
                names.UnionWith(n.Input);
                names.UnionWith(n.Output);
                foreach (var a in n.Attribute)
                {
                    if (a.G is not null)
                    {
                        Visit(a.G);
                    }

                    foreach (var sub in a.Graphs)
                    {
                        Visit(sub);
                    }
                }
            }

            names.UnionWith(g.Initializer.Select(t => t.Name));
            names.UnionWith(g.Input.Select(v => v.Name));
            names.UnionWith(g.Output.Select(v => v.Name));
            names.UnionWith(g.ValueInfo.Select(v => v.Name));
        }

        Visit(graph);
        return names;
    }
}

/// <summary>Factory for <see cref="AttributeProto"/> values.</summary>
public static class Attr
{
    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Floats(string name, IEnumerable<float> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        a.Floats.AddRange(values);
        return a;
    }

    public static AttributeProto Str(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Tensor(string name, TensorProto value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };

    public static AttributeProto Graph(string name, GraphProto value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Graph, G = value };
}
