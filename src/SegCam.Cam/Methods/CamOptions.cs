using SegCam.Common.Errors;

namespace SegCam.Cam.Methods;

/// <summary>What the score S sums: raw logits or class probabilities (METHODS.md §1).</summary>
public enum CamTarget
{
    /// <summary>The model's logits (the input of a final Softmax/Sigmoid when the graph ends in one).</summary>
    Logits,

    /// <summary>Softmax over the class axis (sigmoid for one channel or a sigmoid-ended model).</summary>
    Probabilities,
}

/// <summary>Grid of the returned map.</summary>
public enum CamResolution
{
    /// <summary>The target layer's grid Ω'.</summary>
    Activation,

    /// <summary>The input grid Ω (bilinear/trilinear, half-pixel centres).</summary>
    Input,
}

/// <summary>Per-item normalisation (METHODS.md §3.2).</summary>
public enum CamNormalization
{
    /// <summary>The map as it is.</summary>
    None,

    /// <summary>H / max H when max H &gt; 0, else 0 (Rheude).</summary>
    Max,

    /// <summary>H / max|H| when &gt; 0, else 0 (signed maps).</summary>
    MaxAbs,

    /// <summary>(H − min)/(max − min) when max &gt; min, else 0 (pytorch-grad-cam).</summary>
    MinMax,
}

/// <summary>Arithmetic of the forward and backward pass.</summary>
public enum CamPrecision
{
    /// <summary>float32, the model's own precision: fast.</summary>
    Float32,

    /// <summary>
    /// float64 end to end, as PyTorch autograd in double: exact where float32 rounding flips a ReLU/LeakyReLU kink
    /// or cancels in Grad-CAM++'s denominator; several times slower on CPU.
    /// </summary>
    Float64,
}

/// <summary>Seg-XRes-CAM's gradient pooling operation.</summary>
public enum XResPool
{
    /// <summary>Mean over the window's real members.</summary>
    Mean,

    /// <summary>Maximum over the window's real members.</summary>
    Max,
}

/// <summary>Everything about a CAM request that shapes the compiled graph (the pixel set and class do not).</summary>
public sealed record CamOptions
{
    /// <summary>Methods to compute; several share one forward and backward pass.</summary>
    public IReadOnlyList<CamMethod> Methods { get; init; } = [CamMethod.SegHiResGradCam];

    /// <summary>Logits (default) or probabilities.</summary>
    public CamTarget Target { get; init; } = CamTarget.Logits;

    /// <summary>Apply ReLU to the map (default true; the paper shows both).</summary>
    public bool Relu { get; init; } = true;

    /// <summary>Activation grid or input grid.</summary>
    public CamResolution Resolution { get; init; } = CamResolution.Activation;

    /// <summary>Per-item normalisation.</summary>
    public CamNormalization Normalization { get; init; } = CamNormalization.None;

    /// <summary>Seg-XRes-CAM window (voxels per axis, ≥ 1; 1 equals Seg-HiRes-Grad CAM).</summary>
    public int XResWindow { get; init; } = 2;

    /// <summary>Seg-XRes-CAM pooling.</summary>
    public XResPool XResPool { get; init; } = XResPool.Mean;

    /// <summary>float32 (default) or float64 arithmetic.</summary>
    public CamPrecision Precision { get; init; } = CamPrecision.Float32;

    /// <summary>Also return the activation A and gradient G.</summary>
    public bool ExportTensors { get; init; }

    /// <summary>Checks ranges; the message names the option and what is allowed.</summary>
    public void Validate()
    {
        if (Methods.Count == 0)
        {
            throw new InvalidRequestException($"no CAM method requested; allowed: {string.Join(", ", CamMethodNames.All)}");
        }

        if (Methods.Distinct().Count() != Methods.Count)
        {
            throw new InvalidRequestException("a CAM method is listed twice");
        }

        if (XResWindow is < 1 or > 64)
        {
            throw new InvalidRequestException($"xres window {XResWindow} is out of range; allowed: 1..64");
        }
    }

    /// <summary>A stable key of the graph-shaping options.</summary>
    internal string GraphKey => $"{string.Join('+', Methods.Order())}|{Target}|{Relu}|{Resolution}|{Normalization}|{XResWindow}|{XResPool}|{ExportTensors}|{Precision}";
}
