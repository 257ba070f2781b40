using System.Text;
using SegCam.Common.Errors;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Autodiff;

/// <summary>What a gradient rule sees of one node: its tensors, their probed shapes, the incoming gradients, and the emitter.</summary>
public sealed class RuleContext
{
    private readonly IReadOnlyDictionary<string, TensorInfo> _info;
    private readonly string?[] _outputGrads;
    private readonly bool[] _active;
    private readonly Dictionary<int, string> _inputGrads = [];

    internal RuleContext(NodeProto node, GraphBuilder builder, IReadOnlyDictionary<string, TensorInfo> info, string?[] outputGrads, bool[] active)
    {
        Node = node;
        B = builder;
        _info = info;
        _outputGrads = outputGrads;
        _active = active;
    }

    /// <summary>The forward node.</summary>
    public NodeProto Node { get; }

    /// <summary>The emitter for backward nodes.</summary>
    public GraphBuilder B { get; }

    /// <summary>Gradients set by the rule, by input slot.</summary>
    internal IReadOnlyDictionary<int, string> InputGradients => _inputGrads;

    /// <summary>A short hint for emitted names, derived from the node.</summary>
    public string Hint => "grad/" + (Node.Name.Length > 0 ? Node.Name : Node.Output[0]);

    /// <summary>Name of input <paramref name="slot"/>.</summary>
    public string X(int slot = 0) => Node.Input[slot];

    /// <summary>Name of output <paramref name="slot"/>.</summary>
    public string Y(int slot = 0) => Node.Output[slot];

    /// <summary>Whether input <paramref name="slot"/> exists (not absent or "").</summary>
    public bool HasInput(int slot) => slot < Node.Input.Count && Node.Input[slot].Length > 0;

    /// <summary>True when input <paramref name="slot"/> needs a gradient.</summary>
    public bool IsActive(int slot) => slot < _active.Length && _active[slot];

    /// <summary>The incoming gradient of output <paramref name="slot"/>, or null when nothing flows back into it.</summary>
    public string? OutputGrad(int slot) => slot < _outputGrads.Length ? _outputGrads[slot] : null;

    /// <summary>The incoming gradient of output 0 (zeros when none).</summary>
    public string Dy => OutputGrad(0) ?? B.Zeros(Shape(Y()), Hint + "/dy0");

    /// <summary>Records <paramref name="gradient"/> as the gradient of input <paramref name="slot"/> (ignored when inactive).</summary>
    public void SetGrad(int slot, string gradient)
    {
        if (IsActive(slot))
        {
            _inputGrads[slot] = gradient;
        }
    }

    /// <summary>The probed info of a tensor.</summary>
    public TensorInfo Info(string tensor)
        => _info.TryGetValue(tensor, out var i) ? i : throw new InvalidOperationException($"tensor '{tensor}' was not probed");

    /// <summary>The probed info of a tensor, if it was probed.</summary>
    public bool TryInfo(string tensor, out TensorInfo info) => _info.TryGetValue(tensor, out info!);

    /// <summary>The probed static shape of a tensor.</summary>
    public long[] Shape(string tensor) => Info(tensor).Shape;

    /// <summary>The rank of a tensor.</summary>
    public int Rank(string tensor) => Info(tensor).Rank;

    /// <summary>The values of input <paramref name="slot"/>, which must be small and known at build time.</summary>
    public double[] Constant(int slot)
    {
        var info = Info(X(slot));
        return info.Values ?? throw Refuse($"input {slot} ('{X(slot)}') must be a small constant known when the graph is built");
    }

    /// <summary>The values of input <paramref name="slot"/> as integers.</summary>
    public long[] ConstantInts(int slot) => Constant(slot).Select(v => (long)v).ToArray();

    /// <summary>Integer attribute or default.</summary>
    public long Int(string name, long fallback)
        => Node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    /// <summary>Float attribute or default.</summary>
    public float Float(string name, float fallback)
        => Node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.F : fallback;

    /// <summary>String attribute or default.</summary>
    public string Str(string name, string fallback)
        => Node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? Encoding.UTF8.GetString(a.S.Span) : fallback;

    /// <summary>Integer-list attribute, or null when absent.</summary>
    public long[]? Ints(string name)
        => Node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.Ints.ToArray() : null;

    /// <summary>True when the attribute is present.</summary>
    public bool HasAttribute(string name) => Node.Attribute.Any(a => a.Name == name);

    /// <summary>An error naming this node and why its gradient cannot be built.</summary>
    public UnsupportedOperatorException Refuse(string why)
        => new($"cannot differentiate node '{Node.Name}' ({Node.OpType}, opset {B.Opset}): {why}");

    /// <summary>A scalar constant in the gradient's element type.</summary>
    public string Scalar(double value) => B.Scalar(value);

    /// <summary>
    /// Sums <paramref name="g"/> (shaped <paramref name="gShape"/>) down to <paramref name="xShape"/> under numpy broadcasting
    /// (AUTODIFF.md 2.0 unbroadcast).
    /// </summary>
    public string Unbroadcast(string g, long[] gShape, long[] xShape)
    {
        var lead = gShape.Length - xShape.Length;
        var axes = new List<long>();
        for (var i = 0; i < gShape.Length; i++)
        {
            if (i < lead || (xShape[i - lead] == 1 && gShape[i] != 1))
            {
                axes.Add(i);
            }
        }

        if (axes.Count == 0)
        {
            return g;
        }

        var summed = B.ReduceSum(g, [.. axes], keepDims: true, Hint + "/unbroadcast");
        return B.Reshape(summed, xShape, Hint + "/unbroadcast");
    }

    /// <summary>Normalises a possibly negative axis against <paramref name="rank"/>.</summary>
    public static long Axis(long axis, int rank) => axis < 0 ? axis + rank : axis;

    /// <summary>True when <paramref name="elemType"/> is a floating type.</summary>
    public static bool IsFloat(int elemType) => TensorValues.IsFloat(elemType);
}
