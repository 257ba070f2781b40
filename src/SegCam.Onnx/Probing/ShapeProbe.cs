using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Probing;

/// <summary>
/// Learns every tensor's static shape (and small tensors' values) by one CPU forward run with
/// all intermediates exposed as outputs (AUTODIFF.md 1.3: probe, don't infer).
/// </summary>
public static class ShapeProbe
{
    /// <summary>Tensors with at most this many elements keep their values (shape arithmetic, pads, scales).</summary>
    public const int MaxValueElements = 4096;

    /// <summary>Runs <paramref name="model"/> on <paramref name="inputs"/> and records every node output.</summary>
    public static Dictionary<string, TensorInfo> Run(ModelProto model, IReadOnlyDictionary<string, OrtValue> inputs, IEnumerable<string>? only = null)
    {
        var probe = model.Clone();
        var graph = probe.Graph;
        var existing = new HashSet<string>(graph.Output.Select(o => o.Name), StringComparer.Ordinal);
        var wanted = only?.ToHashSet(StringComparer.Ordinal);
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (var o in node.Output)
            {
                if (o.Length > 0 && !initializers.Contains(o) && (wanted is null || wanted.Contains(o)) && existing.Add(o))
                {
                    graph.Output.Add(new ValueInfoProto { Name = o });
                }
            }
        }

        var result = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        foreach (var t in graph.Initializer)
        {
            var values = t.Dims.Aggregate(1L, (a, d) => a * d) <= MaxValueElements ? TensorValues.ToDoubles(t) : null;
            result[t.Name] = new TensorInfo(t.DataType, t.Dims.ToArray(), values);
        }

        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(OnnxModelFile.ToBytes(probe), options);
        var names = session.OutputMetadata.Keys.ToArray();
        var inputNames = inputs.Keys.ToArray();
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, inputNames, inputNames.Select(n => inputs[n]).ToArray(), names);
        for (var i = 0; i < names.Length; i++)
        {
            result[names[i]] = Describe(outputs[i]);
        }

        foreach (var (name, value) in inputs)
        {
            result[name] = Describe(value);
        }

        return result;
    }

    /// <summary>The element type, shape and (when small) values of an ORT tensor.</summary>
    public static TensorInfo Describe(OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        var shape = info.Shape;
        var elemType = (int)info.ElementDataType;
        double[]? values = null;
        if (info.ElementCount <= MaxValueElements)
        {
            values = info.ElementDataType switch
            {
                TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray().Select(v => (double)v).ToArray(),
                TensorElementType.Double => value.GetTensorDataAsSpan<double>().ToArray(),
                TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray().Select(v => (double)v).ToArray(),
                TensorElementType.Int32 => value.GetTensorDataAsSpan<int>().ToArray().Select(v => (double)v).ToArray(),
                TensorElementType.UInt8 => value.GetTensorDataAsSpan<byte>().ToArray().Select(v => (double)v).ToArray(),
                TensorElementType.Bool => value.GetTensorDataAsSpan<bool>().ToArray().Select(v => v ? 1.0 : 0.0).ToArray(),
                _ => null,
            };
        }

        return new TensorInfo(elemType, shape, values);
    }
}
