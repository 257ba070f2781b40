using System.Text.Json;
using SegCam.Common.Errors;

namespace SegCam.Cam.Models;

/// <summary>
/// The JSON sidecar of a model (<c>model.onnx</c> + <c>model.segcam.json</c>): what a volume pipeline must know to feed
/// the model and to name its classes. <see cref="ModelCardValidator"/> checks it against the model itself.
/// </summary>
public sealed record ModelCard
{
    /// <summary>The schema id every card carries.</summary>
    public const string SchemaId = "segcam.model-card/1";

    /// <summary>The sidecar file name ending.</summary>
    public const string Extension = ".segcam.json";

    /// <summary>Short id (the CLI's <c>--model ID</c> in the model directory).</summary>
    public required string Id { get; init; }

    /// <summary>Display name.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>2 (slice-wise, NCHW) or 3 (volumetric, NCDHW).</summary>
    public required int Dimensionality { get; init; }

    /// <summary>Input channels.</summary>
    public int Channels { get; init; } = 1;

    /// <summary>Spatial input size (H, W or D, H, W), or null when the model takes any size.</summary>
    public IReadOnlyList<int>? InputSize { get; init; }

    /// <summary>Multiple the spatial size must be a multiple of when dynamic (e.g. 16 for a 4-level U-Net).</summary>
    public int SizeMultiple { get; init; } = 1;

    /// <summary>Intensity preprocessing.</summary>
    public IntensityPreprocessing Preprocessing { get; init; } = IntensityPreprocessing.Identity;

    /// <summary>Class names by output channel (index 0 is usually background).</summary>
    public required IReadOnlyList<string> Classes { get; init; }

    /// <summary>Voxel spacing (mm) the model was trained on, (x, y, z), or null.</summary>
    public IReadOnlyList<double>? TrainingSpacing { get; init; }

    /// <summary>Default target layer (tensor name or role); null = the engine's default (the bottleneck).</summary>
    public string? DefaultLayer { get; init; }

    /// <summary>Anatomical axis a 2-D model runs along: axial (default), coronal or sagittal.</summary>
    public string SliceAxis { get; init; } = "axial";

    /// <summary>Free-form measured figures (e.g. Dice on held-out phantoms), kept as written.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();

    /// <summary>The index of class <paramref name="nameOrIndex"/> (a name from <see cref="Classes"/> or a number).</summary>
    public int ClassIndex(string nameOrIndex)
    {
        ArgumentNullException.ThrowIfNull(nameOrIndex);
        for (var i = 0; i < Classes.Count; i++)
        {
            if (string.Equals(Classes[i], nameOrIndex, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        if (int.TryParse(nameOrIndex, System.Globalization.CultureInfo.InvariantCulture, out var index) && index >= 0 && index < Classes.Count)
        {
            return index;
        }

        throw new TargetNotFoundException($"class '{nameOrIndex}' is not one of the model's classes: {string.Join(", ", Classes.Select((c, i) => $"{i} {c}"))}");
    }

    /// <summary>The sidecar path of <paramref name="modelPath"/> (<c>x.onnx</c> → <c>x.segcam.json</c>).</summary>
    public static string SidecarPath(string modelPath)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        var directory = Path.GetDirectoryName(modelPath) ?? string.Empty;
        return Path.Combine(directory, Path.GetFileNameWithoutExtension(modelPath) + Extension);
    }

    /// <summary>Loads the card beside <paramref name="modelPath"/>, or null when there is none.</summary>
    public static ModelCard? FindFor(string modelPath)
    {
        var path = SidecarPath(modelPath);
        return File.Exists(path) ? Load(path) : null;
    }

    /// <summary>Reads and checks a card file.</summary>
    public static ModelCard Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new InputFileNotFoundException($"model card '{path}' does not exist");
        }

        var info = new FileInfo(path);
        if (info.Length > 1 << 20)
        {
            throw new ModelFormatException($"model card '{path}' is {info.Length:N0} bytes; a card is at most 1 MiB");
        }

        return ModelCardJson.Parse(File.ReadAllText(path), path);
    }

    /// <summary>Writes the card as indented JSON.</summary>
    public void Save(string path) => File.WriteAllText(path, ModelCardJson.Format(this));

    /// <summary>Problems with the card on its own (empty when valid).</summary>
    public IEnumerable<string> Problems()
    {
        if (string.IsNullOrWhiteSpace(Id) || Id.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            yield return $"id '{Id}' must be non-empty and use only letters, digits, '-', '_' and '.'";
        }

        if (Dimensionality is not (2 or 3))
        {
            yield return $"dimensionality {Dimensionality} is not allowed; allowed: 2, 3";
        }

        if (Channels < 1)
        {
            yield return $"channels {Channels} must be at least 1";
        }

        if (InputSize is not null && (InputSize.Count != Dimensionality || InputSize.Any(s => s < 1)))
        {
            yield return $"input_size [{string.Join(", ", InputSize)}] must have {Dimensionality} positive entries";
        }

        if (SizeMultiple < 1)
        {
            yield return $"size_multiple {SizeMultiple} must be at least 1";
        }

        if (Classes.Count < 1 || Classes.Any(string.IsNullOrWhiteSpace) || Classes.Distinct(StringComparer.OrdinalIgnoreCase).Count() != Classes.Count)
        {
            yield return "classes must be a non-empty list of distinct, non-empty names";
        }

        if (TrainingSpacing is not null && (TrainingSpacing.Count != 3 || TrainingSpacing.Any(s => !(s > 0) || !double.IsFinite(s))))
        {
            yield return "training_spacing must be three positive millimetre values (x, y, z)";
        }

        if (SliceAxis is not ("axial" or "coronal" or "sagittal"))
        {
            yield return $"slice_axis '{SliceAxis}' is not allowed; allowed: axial, coronal, sagittal";
        }

        foreach (var p in Preprocessing.Problems())
        {
            yield return p;
        }
    }
}
