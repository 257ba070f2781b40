using Microsoft.ML.OnnxRuntime;
using SegCam.Cam.Graphs;
using SegCam.Cam.Methods;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Cam.Execution;

/// <summary>A tiny session applying the same post-processing graph to maps computed outside the main graph (Eigen-CAM).</summary>
internal sealed class PostProcessSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly long[] _mapShape;
    private readonly string _output;

    public PostProcessSession(long[] mapShape, long[] inputSpatial, CamOptions options, int opset, SessionOptionsFactory factory)
    {
        _mapShape = mapShape;
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "segcam_postprocess" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = opset });
        var b = new GraphBuilder(model.Graph, opset);
        var input = b.AddInput("map", TensorValues.Float, mapShape);
        _output = PostProcessEmitter.Emit(b, input, mapShape, inputSpatial, options, "eigen");
        b.AddOutput(_output, TensorValues.Float);
        InputName = input;
        using var sessionOptions = factory.Create();
        _session = new InferenceSession(OnnxModelFile.ToBytes(model), sessionOptions);
    }

    public string InputName { get; }

    public float[] Run(float[] map)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(map, _mapShape);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, [InputName], [value], [_output]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public void Dispose() => _session.Dispose();
}
