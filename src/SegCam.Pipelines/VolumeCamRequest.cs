using SegCam.Cam.Methods;
using SegCam.Common.Errors;
using SegCam.Pipelines.Slicing;

namespace SegCam.Pipelines;

/// <summary>Whether heatmaps are normalised per slice or over the whole volume.</summary>
public enum NormalizationScope
{
    /// <summary>Each slice on its own (what the 2-D engine does per batch item).</summary>
    Slice,

    /// <summary>One scale for the whole volume, so slices are comparable.</summary>
    Volume,
}

/// <summary>A volumetric CAM request: class, pixel set, methods and how the volume is cut and normalised.</summary>
public sealed record VolumeCamRequest
{
    /// <summary>The explained class c (output channel).</summary>
    public required int Class { get; init; }

    /// <summary>The voxels M.</summary>
    public required VolumePixelSet PixelSet { get; init; }

    /// <summary>Methods (each gives one heatmap volume).</summary>
    public IReadOnlyList<CamMethod> Methods { get; init; } = [CamMethod.SegHiResGradCam];

    /// <summary>Target layer (name or role); null = the model card's default, else the engine's (bottleneck).</summary>
    public string? Layer { get; init; }

    /// <summary>
    /// Several target layers (names or roles) explained by the same engine runs (one forward and backward per slice
    /// batch or patch batch for all of them); when set, it replaces <see cref="Layer"/>.
    /// </summary>
    public IReadOnlyList<string>? Layers { get; init; }

    /// <summary>The layers to explain: <see cref="Layers"/>, else <see cref="Layer"/> (null = the card's default).</summary>
    internal IReadOnlyList<string?> LayerNames => Layers is { Count: > 0 } layers ? [.. layers] : [Layer];

    /// <summary>Logits or probabilities.</summary>
    public CamTarget Target { get; init; } = CamTarget.Logits;

    /// <summary>
    /// Input (default): maps interpolated bilinearly/trilinearly to the model input grid, then resampled to the image.
    /// Activation: maps kept at the target layer's own grid and shown on the image grid as blocks (nearest), i.e. what
    /// the layer actually resolves — the coarse look of Seg-Grad CAM the paper contrasts with Seg-HiRes-Grad CAM.
    /// </summary>
    public CamResolution Resolution { get; init; } = CamResolution.Input;

    /// <summary>ReLU on the map.</summary>
    public bool Relu { get; init; } = true;

    /// <summary>none, max or minmax (maxabs for signed maps).</summary>
    public CamNormalization Normalization { get; init; } = CamNormalization.None;

    /// <summary>Per slice or per volume.</summary>
    public NormalizationScope NormalizationScope { get; init; } = NormalizationScope.Volume;

    /// <summary>Slice axis of a 2-D model; null = the model card's.</summary>
    public AnatomicalAxis? Axis { get; init; }

    /// <summary>2-D models: explain only these slices along the slice axis (null = every slice). 3-D models refuse it.</summary>
    public SliceRange? Slices { get; init; }

    /// <summary>
    /// Told, while a 2-D model explains a volume cut along k without normalisation, which heatmap k-slices are final,
    /// so a caller can stream them before the whole volume is done (<see cref="StreamsSlices"/>). Other runs never
    /// report here.
    /// </summary>
    public IProgress<FinalSlices>? FinalSlices { get; init; }

    /// <summary>Slices per engine run (the last batch is padded, so one compiled session serves all).</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Skip slices whose pixel set is empty (their heatmap is exactly zero).</summary>
    public bool SkipEmptySlices { get; init; } = true;

    /// <summary>float32 (default, fast) or float64.</summary>
    public CamPrecision Precision { get; init; } = CamPrecision.Float32;

    /// <summary>Seg-XRes-CAM window and pooling.</summary>
    public int XResWindow { get; init; } = 2;

    /// <summary>Seg-XRes-CAM pooling.</summary>
    public XResPool XResPool { get; init; } = XResPool.Mean;

    /// <summary>The engine options of one slice or patch run: maps at the model input grid, normalised later over the volume.</summary>
    internal CamOptions EngineOptions() => new()
    {
        Methods = Methods,
        Target = Target,
        Relu = Relu,
        Resolution = Resolution,
        Normalization = CamNormalization.None,
        XResWindow = XResWindow,
        XResPool = XResPool,
        Precision = Precision,
    };

    /// <summary>Whether <see cref="FinalSlices"/> reports as slices finish (2-D models cutting along k, no normalisation).</summary>
    public bool StreamsSlices(int dimensionality, int sliceIndexAxis) => dimensionality == 2 && sliceIndexAxis == 2 && Normalization == CamNormalization.None;

    internal void Validate(int classes)
    {
        if (Class < 0 || Class >= classes)
        {
            throw new InvalidRequestException($"class {Class} is out of range; the model has {classes} classes (0..{classes - 1})");
        }

        if (BatchSize is < 1 or > 256)
        {
            throw new InvalidRequestException($"batch size {BatchSize} is out of range; allowed: 1..256");
        }

        if (Methods.Count == 0)
        {
            throw new InvalidRequestException($"no CAM method requested; allowed: {string.Join(", ", CamMethodNames.All)}");
        }
    }
}
