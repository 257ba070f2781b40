using SegCam.Cam.Methods;

namespace SegCam.Cam.Execution;

/// <summary>Flags of one batch item (METHODS.md §1, §3.2).</summary>
[Flags]
public enum CamFlags
{
    /// <summary>Nothing to report.</summary>
    None = 0,

    /// <summary>The pixel set was empty: S ≡ 0, every gradient map is zero.</summary>
    EmptyPixelSet = 1,

    /// <summary>At least one map is all zero (e.g. ReLU erased a negative map).</summary>
    ZeroMap = 2,
}

/// <summary>The maps of one target layer of a request.</summary>
public sealed record CamLayerResult(string Layer, IReadOnlyDictionary<CamMethod, float[]> Maps, long[] MapShape, float[]? Activation, float[]? Gradient, long[] ActivationShape);

/// <summary>The maps of one request: each [N, spatial…] at the requested resolution, plus what was asked to export.</summary>
/// <remarks>
/// Disposing is optional: it hands the result's arrays (maps, logits, exports) back to the engine, which lets a later
/// request of the same session write into them instead of into fresh memory — worth it in loops over batches.
/// None of the result's arrays may be used after <see cref="Dispose"/>.
/// </remarks>
public sealed class CamResult : IDisposable
{
    private Action? _release;

    /// <summary>Every target layer's maps, in request order (the first is also in <see cref="Layer"/>, <see cref="Maps"/>, …).</summary>
    public required IReadOnlyList<CamLayerResult> Layers { get; init; }

    /// <summary>The resolved target layer (exact ONNX tensor name).</summary>
    public required string Layer { get; init; }

    /// <summary>Maps by method.</summary>
    public required IReadOnlyDictionary<CamMethod, float[]> Maps { get; init; }

    /// <summary>Shape of every map.</summary>
    public required long[] MapShape { get; init; }

    /// <summary>The model's logits, [N, classes, spatial…].</summary>
    public required float[] Logits { get; init; }

    /// <summary>Shape of <see cref="Logits"/>.</summary>
    public required long[] LogitsShape { get; init; }

    /// <summary>Voxels in each item's effective pixel set.</summary>
    public required long[] PixelCounts { get; init; }

    /// <summary>Per-item flags.</summary>
    public required CamFlags[] Flags { get; init; }

    /// <summary>The activation A, [N, K, spatial′], when exported.</summary>
    public float[]? Activation { get; init; }

    /// <summary>The gradient G = dS/dA, when exported.</summary>
    public float[]? Gradient { get; init; }

    /// <summary>Shape of A and G.</summary>
    public required long[] ActivationShape { get; init; }

    /// <summary>Wall time of the ORT run(s).</summary>
    public TimeSpan RunTime { get; init; }

    /// <summary>What <see cref="Dispose"/> does: give the arrays back to the session that filled them.</summary>
    internal Action? Release { init => _release = value; }

    /// <summary>Hands the arrays back for reuse; the result's arrays must not be used afterwards.</summary>
    public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
}
