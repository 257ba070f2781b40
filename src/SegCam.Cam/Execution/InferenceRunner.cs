using Microsoft.ML.OnnxRuntime;
using SegCam.Onnx.Model;

namespace SegCam.Cam.Execution;

/// <summary>Plain inference (the model's own output, no gradient) in one long-lived session per model; cancellable.</summary>
internal sealed class InferenceRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly SegmentationModel _model;

    public InferenceRunner(SegmentationModel model, SessionOptionsFactory factory)
    {
        _model = model;
        using var options = factory.Create();
        _session = new InferenceSession(OnnxModelFile.ToBytes(model.Proto), options);
    }

    /// <summary>Runs the model; returns its first output and that output's shape.</summary>
    public float[] Run(float[] input, long[] shape, CancellationToken cancellationToken, out long[] outputShape)
    {
        using var x = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(() => runOptions.Terminate = true);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            using var outputs = _session.Run(runOptions, [_model.Input], [x], [_model.Output]);
            outputShape = outputs[0].GetTensorTypeAndShape().Shape;
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("inference was cancelled", cancellationToken);
        }
    }

    public void Dispose() => _session.Dispose();
}
