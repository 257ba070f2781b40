using Microsoft.ML.OnnxRuntime;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Probing;

/// <summary>
/// Runs one operator on a float32 input in a throw-away CPU session, to measure what ORT actually
/// computes where the spec and the runtime may disagree (pooling divisors, resize weights).
/// </summary>
public static class SingleNodeProbe
{
    /// <summary>Runs <paramref name="node"/> (its inputs: "x" then <paramref name="constants"/> by name; output "y").</summary>
    public static float[] Run(NodeProto node, int opset, float[] x, long[] xShape, IReadOnlyList<TensorProto> constants, out long[] yShape)
    {
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "probe" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = opset });
        model.Graph.Node.Add(node);
        model.Graph.Initializer.AddRange(constants);
        model.Graph.Input.Add(new ValueInfoProto { Name = "x", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = TensorValues.Float } } });
        model.Graph.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = TensorValues.Float } } });
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(OnnxModelFile.ToBytes(model), options);
        using var input = OrtValue.CreateTensorValueFromMemory(x, xShape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["x"], [input], ["y"]);
        yShape = outputs[0].GetTensorTypeAndShape().Shape;
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
