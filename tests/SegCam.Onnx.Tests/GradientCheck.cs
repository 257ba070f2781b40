using Microsoft.ML.OnnxRuntime;
using SegCam.Onnx.Autodiff;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Probing;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Tests;

/// <summary>A tiny test graph: input "a", some nodes and initializers, output "y".</summary>
internal sealed class TestGraph
{
    private ModelProto _model;

    public TestGraph(int opset, params long[] inputShape)
    {
        InputShape = inputShape;
        _model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "test" } };
        _model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = opset });
        var dims = new TensorShapeProto();
        dims.Dim.AddRange(inputShape.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        _model.Graph.Input.Add(new ValueInfoProto { Name = "a", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = TensorValues.Float, Shape = dims } } });
    }

    public long[] InputShape { get; }

    public ModelProto Model => _model;

    /// <summary>Replaces the model (e.g. by its opset-upgraded form); the input stays "a", the output "y".</summary>
    public void Replace(ModelProto model) => _model = model;

    public Random Random { get; } = new(1234);

    /// <summary>Adds a node; returns its first output name.</summary>
    public string Node(string op, string[] inputs, params AttributeProto[] attributes) => Nodes(op, inputs, 1, attributes)[0];

    public string[] Nodes(string op, string[] inputs, int outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = $"{op}_{_model.Graph.Node.Count}" };
        node.Input.AddRange(inputs);
        var names = Enumerable.Range(0, outputs).Select(i => $"t{_model.Graph.Node.Count}_{i}").ToArray();
        node.Output.AddRange(names);
        node.Attribute.AddRange(attributes);
        _model.Graph.Node.Add(node);
        return names;
    }

    /// <summary>A float constant with normal random values (or the given ones).</summary>
    public string Const(long[] dims, float[]? values = null, double scale = 1.0)
    {
        var count = (int)dims.Aggregate(1L, (p, d) => p * d);
        values ??= Enumerable.Range(0, count).Select(_ => (float)(Normal(Random) * scale)).ToArray();
        var name = $"c{_model.Graph.Initializer.Count}";
        _model.Graph.Initializer.Add(TensorValues.FromFloats(name, values, dims));
        return name;
    }

    public string Ints(params long[] values)
    {
        var name = $"i{_model.Graph.Initializer.Count}";
        _model.Graph.Initializer.Add(TensorValues.FromLongs(name, values, values.Length));
        return name;
    }

    /// <summary>Declares <paramref name="tensor"/> the output "y" (through Identity).</summary>
    public TestGraph Output(string tensor)
    {
        var node = new NodeProto { OpType = "Identity", Name = "out" };
        node.Input.Add(tensor);
        node.Output.Add("y");
        _model.Graph.Node.Add(node);
        _model.Graph.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = TensorValues.Float } } });
        return this;
    }

    public static double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}

/// <summary>
/// Checks an appended backward graph against central finite differences of ORT forward runs
/// (AUTODIFF.md §3): directional derivatives of S = Σ seed ⊙ y along random directions.
/// </summary>
internal static class GradientCheck
{
    /// <summary>Input sampler that keeps values away from the given kinks (so FD never straddles one).</summary>
    public static Func<Random, float> AwayFrom(params double[] kinks) => r =>
    {
        while (true)
        {
            var v = TestGraph.Normal(r) * 1.5;
            if (kinks.All(k => Math.Abs(v - k) > 0.05))
            {
                return (float)v;
            }
        }
    };

    /// <summary>Distinct values at least 0.01 apart (no MaxPool ties, no near-ties).</summary>
    public static float[] Distinct(Random r, int count)
    {
        var values = Enumerable.Range(0, count).Select(i => (float)((i - (count / 2.0)) * 0.01)).ToArray();
        r.Shuffle(values);
        return values;
    }

    /// <summary>G = dS/dA from the appended backward graph for S = Σ seed ⊙ y.</summary>
    public static float[] Gradient(TestGraph g, float[] a, float seedValue)
    {
        using var aValue = OrtValue.CreateTensorValueFromMemory(a, g.InputShape);
        var info = ShapeProbe.Run(g.Model, new Dictionary<string, OrtValue> { ["a"] = aValue });
        return Gradient(g, a, Enumerable.Repeat(seedValue, (int)info["y"].Count).ToArray(), info);
    }

    private static float[] Gradient(TestGraph g, float[] a, float[] seed, Dictionary<string, TensorInfo> info)
    {
        var yShape = info["y"].Shape;
        var augmented = g.Model.Clone();
        var opset = (int)augmented.OpsetImport[0].Version;
        var b = new GraphBuilder(augmented.Graph, opset);
        var seedName = b.AddInput("seed", TensorValues.Float, yShape);
        var gradient = BackwardBuilder.Append(b, new GraphIndex(augmented.Graph), info, "a", "y", seedName);
        augmented.Graph.Output.Clear();
        var gOut = b.Op("Identity", "g", [gradient]);
        b.AddOutput(gOut, TensorValues.Float);
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(OnnxModelFile.ToBytes(augmented), options);
        using var aValue = OrtValue.CreateTensorValueFromMemory(a, g.InputShape);
        using var seedValue = OrtValue.CreateTensorValueFromMemory(seed, yShape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["a", seedName], [aValue, seedValue], [gOut]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Returns the worst relative error over <paramref name="directions"/> directions.</summary>
    public static double Run(TestGraph g, bool linear, Func<Random, float>? sampler = null, float[]? input = null, int directions = 4)
    {
        var random = new Random(99);
        var count = (int)g.InputShape.Aggregate(1L, (p, d) => p * d);
        var a = input ?? Enumerable.Range(0, count).Select(_ => sampler is null ? (float)TestGraph.Normal(random) : sampler(random)).ToArray();
        using var aValue = OrtValue.CreateTensorValueFromMemory(a, g.InputShape);
        var info = ShapeProbe.Run(g.Model, new Dictionary<string, OrtValue> { ["a"] = aValue });
        var yShape = info["y"].Shape;
        var seed = Enumerable.Range(0, (int)info["y"].Count).Select(_ => (float)TestGraph.Normal(random)).ToArray();

        var grad = Gradient(g, a, seed, info);
        Assert.Equal(count, grad.Length);
        using var forwardOptions = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var forward = new InferenceSession(OnnxModelFile.ToBytes(g.Model), forwardOptions);
        double Score(float[] x)
        {
            using var value = OrtValue.CreateTensorValueFromMemory(x, g.InputShape);
            using var runOptions = new RunOptions();
            using var outputs = forward.Run(runOptions, ["a"], [value], ["y"]);
            var y = outputs[0].GetTensorDataAsSpan<float>();
            var s = 0.0;
            for (var i = 0; i < y.Length; i++)
            {
                s += (double)y[i] * seed[i];
            }

            return s;
        }

        var h = linear ? 1.0 : 1e-3;
        double errorSum = 0, scaleSum = 0;
        for (var d = 0; d < directions; d++)
        {
            var u = Enumerable.Range(0, count).Select(_ => TestGraph.Normal(random)).ToArray();
            var plus = a.Select((v, i) => (float)(v + (h * u[i]))).ToArray();
            var minus = a.Select((v, i) => (float)(v - (h * u[i]))).ToArray();
            var fd = (Score(plus) - Score(minus)) / (2 * h);
            var analytic = grad.Select((v, i) => v * u[i]).Sum();
            errorSum += Math.Abs(fd - analytic);
            scaleSum += Math.Abs(analytic) + (1e-3 * Math.Sqrt(grad.Sum(v => (double)v * v) * count));
        }

        return errorSum / scaleSum;
    }
}

