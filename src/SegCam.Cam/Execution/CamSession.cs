using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using SegCam.Cam.Graphs;
using SegCam.Cam.Methods;
using SegCam.Onnx.Model;

namespace SegCam.Cam.Execution;

/// <summary>One compiled ORT session of an augmented model; inputs are the image, the pixel-set mask and the class.</summary>
internal sealed class CamSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _outputNames;

    public CamSession(AugmentedModel model, SessionOptionsFactory factory, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        Model = model;
        using var options = factory.Create(level);
        try
        {
            _session = new InferenceSession(OnnxModelFile.ToBytes(model.Model), options);
        }
        catch (OnnxRuntimeException ex) when (ex.Message.Contains("Could not find an implementation", StringComparison.Ordinal))
        {
            // A kernel missing for an element type (float64 has fewer kernels than float32).
            throw new Common.Errors.UnsupportedOperatorException($"ONNX Runtime has no kernel for a node of the CAM graph ({ex.Message}); with --precision float64, try float32");
        }
        _outputNames = _session.OutputMetadata.Keys.ToArray();
    }

    public AugmentedModel Model { get; }

    /// <summary>Runs forward + backward + CAM head; returns every output by name.</summary>
    public Dictionary<string, float[]> Run(float[] input, byte[] mask, long[] classes, bool usePredicted, CancellationToken cancellationToken, out TimeSpan elapsed)
    {
        using var x = OrtValue.CreateTensorValueFromMemory(input, Model.InputShape);
        using var m = OrtValue.CreateTensorValueFromMemory(mask, [Model.InputShape[0], 1, .. Model.OutputSpatial]);
        using var c = OrtValue.CreateTensorValueFromMemory(classes, [classes.Length]);
        using var p = OrtValue.CreateTensorValueFromMemory(new[] { usePredicted }, [1]);
        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(() => runOptions.Terminate = true);
        cancellationToken.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();
        try
        {
            using var outputs = _session.Run(runOptions, [Model.Input, Model.MaskInput, Model.ClassInput, Model.PredictedInput], [x, m, c, p], _outputNames);
            elapsed = clock.Elapsed;
            var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
            for (var i = 0; i < _outputNames.Length; i++)
            {
                result[_outputNames[i]] = outputs[i].GetTensorDataAsSpan<float>().ToArray();
            }

            return result;
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("the CAM computation was cancelled", cancellationToken);
        }
    }

    public void Dispose() => _session.Dispose();
}
