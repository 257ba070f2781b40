using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using SegCam.Cam.Graphs;
using SegCam.Cam.Layers;
using SegCam.Cam.Methods;
using SegCam.Cam.PixelSets;
using SegCam.Common.Errors;

namespace SegCam.Cam.Execution;

/// <summary>
/// Computes CAMs: one cached ORT session per (model, layer, options, input shape, rule-set version);
/// the pixel set and class are session inputs, so changing them never recompiles.
/// </summary>
public sealed class CamEngine : IDisposable
{
    /// <summary>Compiled CAM sessions an engine keeps by default (each holds ONNX Runtime's buffers for its graph).</summary>
    public const int DefaultMaxCachedSessions = 8;

    private readonly SessionCache<CamSession> _sessions;
    private readonly SessionCache<PostProcessSession> _postSessions;
    private readonly ConcurrentDictionary<string, Lazy<InferenceRunner>> _runners = new(StringComparer.Ordinal);

    /// <summary>Creates an engine on <paramref name="device"/>; <paramref name="report"/> hears which provider is active.</summary>
    /// <param name="device">Execution provider to ask for.</param>
    /// <param name="report">Hears which provider is active, and why when it differs.</param>
    /// <param name="maxCachedSessions">Compiled CAM sessions kept (least recently used out; at least 1): each
    /// (model, layers, options, input shape) combination has one, and a long-running server meets many.</param>
    public CamEngine(ExecutionDevice device = ExecutionDevice.Cpu, Action<string>? report = null, int maxCachedSessions = DefaultMaxCachedSessions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCachedSessions, 1);
        Sessions = new SessionOptionsFactory(device, report);
        _sessions = new SessionCache<CamSession>(maxCachedSessions);
        _postSessions = new SessionCache<PostProcessSession>(maxCachedSessions);
    }

    /// <summary>Session options and the active provider.</summary>
    public SessionOptionsFactory Sessions { get; }

    /// <summary>Graph optimisation level of new sessions (tests compare levels).</summary>
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>Number of compiled CAM sessions held.</summary>
    public int CachedSessions => _sessions.Count;

    /// <summary>The most compiled CAM sessions held.</summary>
    public int MaxCachedSessions => _sessions.Capacity;

    /// <summary>Runs one request.</summary>
    public CamResult Compute(SegmentationModel model, CamRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(request);
        request.Options.Validate();
        model.ValidateInputShape(request.InputShape);
        var expected = request.InputShape.Aggregate(1L, (a, d) => checked(a * d));
        if (request.Input.LongLength != expected)
        {
            throw new InvalidRequestException($"input has {request.Input.LongLength} values; its shape [{string.Join(", ", request.InputShape)}] needs {expected}");
        }

        if (request.Layers is { Count: > 0 } && request.Layers.Any(string.IsNullOrWhiteSpace))
        {
            throw new InvalidRequestException("a target layer name is empty; give ONNX tensor names or roles");
        }

        var layers = (request.Layers is { Count: > 0 } named ? named : [request.Layer!]).Select(l => LayerCatalog.Resolve(model, request.InputShape, l)).ToArray();

        if (layers.Distinct(StringComparer.Ordinal).Count() != layers.Length)
        {
            throw new InvalidRequestException($"target layers [{string.Join(", ", request.Layers!)}] resolve to the same tensor more than once ([{string.Join(", ", layers)}])");
        }

        using var lease = Session(model, layers, request.InputShape, request.Options);
        var session = lease.Session;
        var augmented = session.Model;
        if (request.Class < 0 || request.Class >= augmented.Classes)
        {
            throw new InvalidRequestException($"class {request.Class} is out of range; the model has {augmented.Classes} classes (0..{augmented.Classes - 1})");
        }

        var batch = request.InputShape[0];
        var classes = Enumerable.Repeat((long)request.Class, (int)batch).ToArray();
        var maskLength = PixelSetRasterizer.Length(batch, augmented.OutputSpatial);
        var mask = ArrayPool<byte>.Shared.Rent(maskLength);
        CamOutputs run;
        TimeSpan elapsed;
        try
        {
            PixelSetRasterizer.Rasterize(request.PixelSet, batch, augmented.OutputSpatial, mask.AsSpan(0, maskLength));
            run = session.Run(request.Input, mask.AsMemory(0, maskLength), classes, request.PixelSet.WithinPredicted, cancellationToken, out elapsed);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(mask);
        }

        var outputs = run.ByName;

        var results = new List<CamLayerResult>();
        foreach (var head in augmented.Heads)
        {
            var maps = new Dictionary<CamMethod, float[]>();
            foreach (var (method, name) in head.CamOutputs)
            {
                maps[method] = outputs[name];
            }

            var activation = head.ActivationOutput is null ? null : outputs[head.ActivationOutput];
            long[] mapShape = request.Options.Resolution == CamResolution.Input
                ? [batch, .. request.InputShape[2..]]
                : [batch, .. head.ActivationShape[2..]];
            if (request.Options.Methods.Contains(CamMethod.SegEigenCam))
            {
                var clock = Stopwatch.StartNew();
                maps[CamMethod.SegEigenCam] = EigenMap(model, head, activation!, request);
                elapsed += clock.Elapsed;
            }

            results.Add(new CamLayerResult(head.Activation, maps, mapShape, request.Options.ExportTensors ? activation : null, head.GradientOutput is null ? null : outputs[head.GradientOutput], head.ActivationShape));
        }

        var counts = outputs[augmented.PixelCountOutput].Select(v => (long)Math.Round(v)).ToArray();
        var flags = new CamFlags[batch];
        for (var n = 0; n < batch; n++)
        {
            if (counts[n] == 0)
            {
                flags[n] |= CamFlags.EmptyPixelSet;
            }

            foreach (var layer in results)
            {
                var perItem = layer.MapShape.Skip(1).Aggregate(1L, (a, d) => a * d);
                foreach (var map in layer.Maps.Values)
                {
                    var item = map.AsSpan((int)(n * perItem), (int)perItem);
                    if (item.ContainsAnyExcept(0f))
                    {
                        if (!AllFinite(item))
                        {
                            throw new InvalidRequestException("NONFINITE: the model produced a non-finite value in the activation, gradient or map");
                        }
                    }
                    else
                    {
                        flags[n] |= CamFlags.ZeroMap;
                    }
                }
            }
        }

        var first = results[0];
        return new CamResult
        {
            Layers = results,
            Layer = first.Layer,
            Maps = first.Maps,
            MapShape = first.MapShape,
            Logits = outputs[augmented.LogitsOutput],
            LogitsShape = augmented.LogitsShape,
            PixelCounts = counts,
            Flags = flags,
            Activation = first.Activation,
            Gradient = first.Gradient,
            ActivationShape = first.ActivationShape,
            RunTime = elapsed,
            Release = () => session.Recycle(run.Buffers),
        };
    }

    /// <summary>
    /// Plain inference: the model's first output (logits or probabilities, as the model ends) for <paramref name="input"/>,
    /// without any gradient; one cached session per model.
    /// </summary>
    public float[] Infer(SegmentationModel model, float[] input, long[] inputShape, out long[] outputShape, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(input);
        model.ValidateInputShape(inputShape);
        if (input.LongLength != inputShape.Aggregate(1L, (a, d) => checked(a * d)))
        {
            throw new InvalidRequestException($"input has {input.LongLength} values; its shape [{string.Join(", ", inputShape)}] needs {inputShape.Aggregate(1L, (a, d) => a * d)}");
        }

        var runner = _runners.GetOrAdd(model.Hash, _ => new Lazy<InferenceRunner>(() => new InferenceRunner(model, Sessions))).Value;
        return runner.Run(input, inputShape, cancellationToken, out outputShape);
    }

    /// <summary>Compiles (or reuses) the session for a request without running it.</summary>
    public void Prepare(SegmentationModel model, string? layer, long[] inputShape, CamOptions options)
    {
        using var lease = Session(model, [LayerCatalog.Resolve(model, inputShape, layer)], inputShape, options);
    }

    private SessionCache<CamSession>.Lease Session(SegmentationModel model, IReadOnlyList<string> layers, long[] inputShape, CamOptions options)
    {
        var key = $"{model.Hash}|{string.Join('\u001f', layers)}|{string.Join('x', inputShape)}|{options.GraphKey}|{Onnx.Autodiff.GradientRules.Version}|{OptimizationLevel}|{Sessions.Active}";
        return _sessions.Acquire(key, () =>
            new CamSession(AugmentedModelBuilder.Build(model, layers, inputShape, options, cpuLayout: Sessions.Active == ExecutionDevice.Cpu && OptimizationLevel == GraphOptimizationLevel.ORT_ENABLE_ALL), Sessions, OptimizationLevel));
    }

    private float[] EigenMap(SegmentationModel model, LayerHead head, float[] activation, CamRequest request)
    {
        var shape = head.ActivationShape;
        var channels = (int)shape[1];
        var positions = (int)shape.Skip(2).Aggregate(1L, (a, d) => a * d);
        var batch = (int)shape[0];
        var raw = new float[batch * positions];
        for (var n = 0; n < batch; n++)
        {
            var e = EigenProjection.Project(activation.AsSpan(n * channels * positions, channels * positions), channels, positions);
            for (var p = 0; p < positions; p++)
            {
                raw[(n * positions) + p] = (float)e[p];
            }
        }

        long[] mapShape = [shape[0], 1, .. shape[2..]];
        var inputSpatial = request.InputShape[2..];
        var key = $"{string.Join('x', mapShape)}|{string.Join('x', inputSpatial)}|{request.Options.GraphKey}|{model.Opset}";
        using var post = _postSessions.Acquire(key, () =>
            new PostProcessSession(mapShape, inputSpatial, request.Options, Math.Max(model.Opset, 13), Sessions));
        return post.Session.Run(raw);
    }

    /// <summary>True when no value is NaN or ±∞: v − v is 0 for finite v and NaN otherwise, summed a vector at a time.</summary>
    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        var vectors = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(values);
        var acc = System.Numerics.Vector<float>.Zero;
        foreach (var v in vectors)
        {
            acc += v - v;
        }

        var sum = System.Numerics.Vector.Sum(acc);
        foreach (var v in values[(vectors.Length * System.Numerics.Vector<float>.Count)..])
        {
            sum += v - v;
        }

        return sum == 0;
    }

    /// <summary>Releases every cached session (one still running is released when its request ends).</summary>
    public void Dispose()
    {
        _sessions.Dispose();
        _postSessions.Dispose();
        foreach (var s in _runners.Values.Where(s => s.IsValueCreated))
        {
            s.Value.Dispose();
        }

        _runners.Clear();
    }
}
