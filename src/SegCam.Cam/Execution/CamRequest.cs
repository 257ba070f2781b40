using SegCam.Cam.Methods;
using SegCam.Cam.PixelSets;

namespace SegCam.Cam.Execution;

/// <summary>One CAM request: the model input as is (no preprocessing), the class, the pixel set, the layer and the options.</summary>
public sealed record CamRequest
{
    /// <summary>Model input, C order.</summary>
    public required float[] Input { get; init; }

    /// <summary>Shape of <see cref="Input"/> (N, channels, spatial…).</summary>
    public required long[] InputShape { get; init; }

    /// <summary>The explained class c.</summary>
    public required int Class { get; init; }

    /// <summary>The pixel set M.</summary>
    public PixelSet PixelSet { get; init; } = PixelSet.All();

    /// <summary>Tensor name or role of the target layer; null for the default.</summary>
    public string? Layer { get; init; }

    /// <summary>
    /// Several target layers (names or roles) explained by ONE forward and backward pass; when set, it replaces
    /// <see cref="Layer"/> and <see cref="CamResult.Layers"/> holds one result per layer, in this order.
    /// </summary>
    public IReadOnlyList<string>? Layers { get; init; }

    /// <summary>Methods and post-processing.</summary>
    public CamOptions Options { get; init; } = new();
}
