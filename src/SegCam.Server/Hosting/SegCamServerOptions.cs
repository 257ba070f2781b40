using SegCam.Cam.Execution;

namespace SegCam.Server.Hosting;

/// <summary>How <c>segcam serve</c> runs: where models are, where it listens, who may call, and its limits.</summary>
public sealed record SegCamServerOptions
{
    /// <summary>Default listen address: loopback only, so nothing is exposed unless asked for.</summary>
    public const string DefaultListen = "127.0.0.1:5055";

    /// <summary>Folder of <c>*.onnx</c> models with their <c>.segcam.json</c> cards.</summary>
    public required string ModelDirectory { get; init; }

    /// <summary>HOST:PORT to listen on (port 0 picks a free port; <see cref="SegCamServer.Addresses"/> says which).</summary>
    public string Listen { get; init; } = DefaultListen;

    /// <summary>PKCS#12 (.pfx) or PEM certificate for TLS; null = plaintext HTTP/2 (fine on loopback).</summary>
    public string? TlsCertificate { get; init; }

    /// <summary>Password of a .pfx, or the PEM private-key file beside a PEM certificate.</summary>
    public string? TlsKey { get; init; }

    /// <summary>When set, every SegCamService call must send <c>authorization: Bearer &lt;key&gt;</c>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Execution device of the engine (CUDA falls back to CPU and says so).</summary>
    public ExecutionDevice Device { get; init; } = ExecutionDevice.Cpu;

    /// <summary>Computations (Segment, ComputeCam) running at once.</summary>
    public int MaxConcurrent { get; init; } = 2;

    /// <summary>Computations waiting for a slot; more are refused with RESOURCE_EXHAUSTED.</summary>
    public int MaxQueued { get; init; } = 16;

    /// <summary>Compiled CAM sessions the engine keeps (least recently used out); each is one (model, layers, options,
    /// input shape) combination with ONNX Runtime's buffers for it.</summary>
    public int MaxCachedSessions { get; init; } = Cam.Execution.CamEngine.DefaultMaxCachedSessions;

    /// <summary>A stored volume is forgotten after this long without use.</summary>
    public TimeSpan VolumeIdle { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Bytes of stored volumes kept at once.</summary>
    public long MaxStoredBytes { get; init; } = 8L << 30;

    /// <summary>Largest volume accepted, in voxels.</summary>
    public long MaxVoxels { get; init; } = 1L << 30;

    /// <summary>Largest gRPC message received or sent.</summary>
    public int MaxMessageBytes { get; init; } = 4 << 20;

    /// <summary>Heatmap and label chunk size unless a request asks for less.</summary>
    public int ChunkBytes { get; init; } = 1 << 20;

    /// <summary>Largest inline volume (voxel bytes carried in a request).</summary>
    public int MaxInlineBytes { get; init; } = 2 << 20;

    /// <summary>Largest result one request may produce (heatmap volumes, label maps), checked before computing.</summary>
    public long MaxResultBytes { get; init; } = 4L << 30;

    /// <summary>Exception details in INTERNAL statuses (development only).</summary>
    public bool DetailedErrors { get; init; }

    /// <summary>OTLP endpoint for OpenTelemetry metrics (e.g. http://collector:4317); null = metrics stay in-process.</summary>
    public string? OtlpEndpoint { get; init; }

    /// <summary>Checks the options (before anything starts).</summary>
    internal void Validate()
    {
        static void Positive(long value, string name)
        {
            if (value <= 0)
            {
                throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive");
            }
        }

        Positive(MaxConcurrent, nameof(MaxConcurrent));
        Positive(MaxCachedSessions, nameof(MaxCachedSessions));
        Positive(MaxQueued + 1, nameof(MaxQueued));
        Positive(MaxStoredBytes, nameof(MaxStoredBytes));
        Positive(MaxVoxels, nameof(MaxVoxels));
        Positive(MaxResultBytes, nameof(MaxResultBytes));
        Positive((long)VolumeIdle.TotalSeconds, nameof(VolumeIdle));
        if (MaxMessageBytes < 64 << 10 || ChunkBytes < 1024 || ChunkBytes > MaxMessageBytes - (16 << 10))
        {
            throw new ArgumentOutOfRangeException(nameof(ChunkBytes), ChunkBytes, $"chunk bytes must lie in 1 KiB .. max message bytes ({MaxMessageBytes}) − 16 KiB, and max message bytes be ≥ 64 KiB");
        }
    }
}
