using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using SegCam.Cam.Graphs;
using SegCam.Onnx.Model;

namespace SegCam.Cam.Execution;

/// <summary>The outputs of one run by name, and the arrays behind them, which can go back to the session for reuse.</summary>
internal sealed record CamOutputs(IReadOnlyDictionary<string, float[]> ByName, float[][] Buffers);

/// <summary>One compiled ORT session of an augmented model; inputs are the image, the pixel-set mask and the class.</summary>
/// <remarks>
/// From the second run on, ORT writes the outputs straight into managed arrays of the shapes the first run produced,
/// taken from a small pool of arrays that earlier results handed back (<see cref="CamResult.Dispose"/>). Fresh large
/// arrays cost a page fault per 4 KiB on first touch, which on the VMs measured here took as long as the CAM head
/// itself (README, benchmarks); recycled ones are already mapped.
/// </remarks>
internal sealed class CamSession : IDisposable
{
    private const int MaxSpareSets = 2;
    private readonly InferenceSession _session;
    private readonly string[] _outputNames;
    private readonly string[] _inputNames;
    private readonly ConcurrentQueue<float[][]> _spare = new();
    private long[][]? _outputShapes;
    private volatile bool _disposed;

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
        _inputNames = [model.Input, model.MaskInput, model.ClassInput, model.PredictedInput];
    }

    public AugmentedModel Model { get; }

    /// <summary>Runs forward + backward + CAM head; returns every output by name.</summary>
    public CamOutputs Run(float[] input, Memory<byte> mask, long[] classes, bool usePredicted, CancellationToken cancellationToken, out TimeSpan elapsed)
    {
        using var x = OrtValue.CreateTensorValueFromMemory(input, Model.InputShape);
        using var m = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, mask, [Model.InputShape[0], 1, .. Model.OutputSpatial]);
        using var c = OrtValue.CreateTensorValueFromMemory(classes, [classes.Length]);
        using var p = OrtValue.CreateTensorValueFromMemory(new[] { usePredicted }, [1]);
        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(() => runOptions.Terminate = true);
        cancellationToken.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();
        try
        {
            var buffers = _outputShapes is null ? FirstRun(runOptions, [x, m, c, p]) : RunIntoBuffers(runOptions, [x, m, c, p], _outputShapes);
            elapsed = clock.Elapsed;
            var byName = new Dictionary<string, float[]>(StringComparer.Ordinal);
            for (var i = 0; i < _outputNames.Length; i++)
            {
                byName[_outputNames[i]] = buffers[i];
            }

            return new CamOutputs(byName, buffers);
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("the CAM computation was cancelled", cancellationToken);
        }
    }

    /// <summary>Takes back the arrays of a result its owner no longer uses; keeps at most a couple of sets.</summary>
    public void Recycle(float[][] buffers)
    {
        if (!_disposed && _spare.Count < MaxSpareSets)
        {
            _spare.Enqueue(buffers);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _spare.Clear();
        _session.Dispose();
    }

    private float[][] FirstRun(RunOptions runOptions, OrtValue[] inputs)
    {
        using var outputs = _session.Run(runOptions, _inputNames, inputs, _outputNames);
        var shapes = new long[_outputNames.Length][];
        var buffers = new float[_outputNames.Length][];
        for (var i = 0; i < _outputNames.Length; i++)
        {
            shapes[i] = outputs[i].GetTensorTypeAndShape().Shape;
            buffers[i] = outputs[i].GetTensorDataAsSpan<float>().ToArray();
        }

        _outputShapes = shapes;
        return buffers;
    }

    private float[][] RunIntoBuffers(RunOptions runOptions, OrtValue[] inputs, long[][] shapes)
    {
        _spare.TryDequeue(out var spare);
        var buffers = new float[shapes.Length][];
        var values = new OrtValue[shapes.Length];
        try
        {
            for (var i = 0; i < shapes.Length; i++)
            {
                buffers[i] = spare?[i] ?? GC.AllocateUninitializedArray<float>(checked((int)shapes[i].Aggregate(1L, (a, d) => a * d)));
                values[i] = OrtValue.CreateTensorValueFromMemory(buffers[i], shapes[i]);
            }

            _session.Run(runOptions, _inputNames, inputs, _outputNames, values);
            return buffers;
        }
        catch
        {
            if (spare is not null)
            {
                Recycle(spare);
            }

            throw;
        }
        finally
        {
            foreach (var value in values)
            {
                value?.Dispose();
            }
        }
    }
}
