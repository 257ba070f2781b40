using Microsoft.ML.OnnxRuntime;

namespace SegCam.Cam.Execution;

/// <summary>Where sessions run.</summary>
public enum ExecutionDevice
{
    /// <summary>ONNX Runtime's CPU execution provider.</summary>
    Cpu,

    /// <summary>The CUDA execution provider (GPU build of ONNX Runtime), falling back to CPU when unavailable.</summary>
    Cuda,
}

/// <summary>Creates session options for a device and reports which provider is really active.</summary>
public sealed class SessionOptionsFactory
{
    private static int _optimizedModels;
    private readonly Action<string> _report;

    /// <summary>Tries <paramref name="requested"/> once; on failure falls back to CPU and says why through <paramref name="report"/>.</summary>
    public SessionOptionsFactory(ExecutionDevice requested, Action<string>? report = null)
    {
        _report = report ?? (_ => { });
        Requested = requested;
        Active = ExecutionDevice.Cpu;
        if (requested == ExecutionDevice.Cuda)
        {
            try
            {
                using var probe = SessionOptions.MakeSessionOptionWithCudaProvider(0);
                Active = ExecutionDevice.Cuda;
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException or InvalidOperationException)
            {
                FallbackReason = $"CUDA execution provider unavailable ({ex.Message.Split('\n')[0]}); running on CPU";
            }
        }

        _report(FallbackReason ?? $"execution provider: {ProviderName}" + (Active == ExecutionDevice.Cuda ? (AllowTf32 ? " (TF32 convolutions allowed)" : " (TF32 off)") : string.Empty));
    }

    /// <summary>
    /// Whether CUDA convolutions and matrix products may use TF32 tensor cores (10-bit mantissa): faster, but float32
    /// heatmaps then differ from the CPU's by up to a few per cent of their maximum (measured on an H200). Off unless
    /// the environment sets <c>SEGCAM_CUDA_TF32=1</c>; float64 never uses TF32.
    /// </summary>
    public static bool AllowTf32 { get; } = Environment.GetEnvironmentVariable("SEGCAM_CUDA_TF32") == "1";

    /// <summary>The device asked for.</summary>
    public ExecutionDevice Requested { get; }

    /// <summary>The device sessions actually use.</summary>
    public ExecutionDevice Active { get; }

    /// <summary>Why the requested device is not used, if it is not.</summary>
    public string? FallbackReason { get; }

    /// <summary>ORT's name of the active provider.</summary>
    public string ProviderName => Active == ExecutionDevice.Cuda ? "CUDAExecutionProvider" : "CPUExecutionProvider";

    /// <summary>New options for one session.</summary>
    public SessionOptions Create(GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        SessionOptions options;
        if (Active == ExecutionDevice.Cuda)
        {
            using var cuda = new OrtCUDAProviderOptions();
            cuda.UpdateOptions(new Dictionary<string, string>
            {
                ["device_id"] = "0",
                ["cudnn_conv_algo_search"] = "HEURISTIC",
                ["cudnn_conv_use_max_workspace"] = "1",
                ["do_copy_in_default_stream"] = "1",
                ["arena_extend_strategy"] = "kSameAsRequested",
                ["use_tf32"] = AllowTf32 ? "1" : "0",
            });
            options = SessionOptions.MakeSessionOptionWithCudaProvider(cuda);
        }
        else
        {
            options = new SessionOptions();
        }

        options.GraphOptimizationLevel = level;
        options.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
        if (Environment.GetEnvironmentVariable("SEGCAM_ORT_PROFILE") is { Length: > 0 } prefix)
        {
            // Diagnostics: ORT writes a chrome://tracing JSON per session (PREFIX_<date>.json) with every kernel's time.
            options.ProfileOutputPathPrefix = prefix; // before EnableProfiling, which reads it
            options.EnableProfiling = true;
        }

        if (Environment.GetEnvironmentVariable("SEGCAM_ORT_OPTIMIZED_MODEL") is { Length: > 0 } modelPrefix)
        {
            // Diagnostics: the graph ORT runs after its optimisations (layout transforms, fusions), one file per session.
            options.OptimizedModelFilePath = $"{modelPrefix}_{Interlocked.Increment(ref _optimizedModels)}.onnx";
        }

        return options;
    }
}
