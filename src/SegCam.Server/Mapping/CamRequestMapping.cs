using SegCam.Cam.Methods;
using SegCam.Cam.Models;
using SegCam.Common.Errors;
using SegCam.Pipelines;
using SegCam.Pipelines.Slicing;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Server.Mapping;

/// <summary>A ComputeCam request to one <see cref="VolumeCamRequest"/> per target layer.</summary>
internal static class CamRequestMapping
{
    /// <summary>Largest batch a request may ask for.</summary>
    public const int MaxBatch = 256;

    /// <summary>The method list (default: Seg-HiRes-Grad CAM), checked for unknown ids and duplicates.</summary>
    public static IReadOnlyList<CamMethod> Methods(IReadOnlyCollection<string> ids)
        => ids.Count == 0 ? [CamMethod.SegHiResGradCam] : CamMethodNames.ParseList([.. ids.Select(id => Require(id, "methods"))]);

    /// <summary>The pipeline request for <paramref name="layers"/> (one null entry = the card's default layer).</summary>
    public static VolumeCamRequest ToRequest(Proto.ComputeCamRequest request, ModelCard card, VolumePixelSet pixelSet, IReadOnlyList<CamMethod> methods, IReadOnlyList<string?> layers)
    {
        var options = request.Options ?? new Proto.CamOptions();
        var relu = !options.HasRelu || options.Relu;
        return new VolumeCamRequest
        {
            Class = ClassIndex(card, request.TargetClass),
            PixelSet = pixelSet,
            Methods = methods,
            Layer = layers[0],
            Layers = layers.Count > 1 ? [.. layers.OfType<string>()] : null,
            Target = options.Target switch
            {
                Proto.ScoreTarget.Logits => CamTarget.Logits,
                Proto.ScoreTarget.Probabilities => CamTarget.Probabilities,
                _ => throw Unknown("options.target", options.Target, "LOGITS, PROBABILITIES"),
            },
            Relu = relu,
            Normalization = options.Normalization switch
            {
                Proto.Normalization.None => CamNormalization.None,
                Proto.Normalization.Max => relu ? CamNormalization.Max : CamNormalization.MaxAbs,
                Proto.Normalization.Minmax => CamNormalization.MinMax,
                _ => throw Unknown("options.normalization", options.Normalization, "NONE, MAX, MINMAX"),
            },
            NormalizationScope = options.NormalizationScope switch
            {
                Proto.NormalizationScope.Volume => NormalizationScope.Volume,
                Proto.NormalizationScope.Slice => NormalizationScope.Slice,
                _ => throw Unknown("options.normalization_scope", options.NormalizationScope, "VOLUME, SLICE"),
            },
            Precision = options.Precision switch
            {
                Proto.Precision.Float32 => CamPrecision.Float32,
                Proto.Precision.Float64 => CamPrecision.Float64,
                _ => throw Unknown("options.precision", options.Precision, "FLOAT32, FLOAT64"),
            },
            XResWindow = options.XresWindow == 0 ? 2 : options.XresWindow is > 0 and <= 64 ? options.XresWindow : throw new InvalidRequestException($"options.xres_window is {options.XresWindow}; allowed: 0 (default 2) or 1..64"),
            XResPool = options.XresPool switch
            {
                Proto.XResPool.Mean => XResPool.Mean,
                Proto.XResPool.Max => XResPool.Max,
                _ => throw Unknown("options.xres_pool", options.XresPool, "MEAN, MAX"),
            },
            BatchSize = Batch(options.BatchSize, "options.batch_size"),
            Resolution = options.Resolution switch
            {
                Proto.Resolution.Input => CamResolution.Input,
                Proto.Resolution.Activation => CamResolution.Activation,
                _ => throw Unknown("options.resolution", options.Resolution, "INPUT, ACTIVATION"),
            },
            Axis = string.IsNullOrEmpty(request.Slices?.Axis) ? null : Axis(request.Slices.Axis),
            Slices = SliceRange(request.Slices),
        };
    }

    /// <summary>The target layers (null = the model's default), checked for empty names and repeats.</summary>
    public static IReadOnlyList<string?> Layers(IReadOnlyCollection<string> names)
    {
        if (names.Count == 0)
        {
            return [null];
        }

        if (names.Any(string.IsNullOrWhiteSpace))
        {
            throw new InvalidRequestException("layers holds an empty name; give ONNX tensor names or roles (ListModels)");
        }

        return names.Distinct(StringComparer.Ordinal).Count() == names.Count ? [.. names] : throw new InvalidRequestException("layers lists a layer twice");
    }

    /// <summary>Refuses a request whose heatmaps (methods × layers × voxels × 4 bytes) and label map exceed <paramref name="limit"/>.</summary>
    public static void CheckResultSize(int methods, int layers, long voxels, bool labelMap, long limit)
    {
        var bytes = ((long)methods * layers * voxels * sizeof(float)) + (labelMap ? voxels : 0);
        if (bytes > limit)
        {
            throw new ResourceLimitException(methods == 0
                ? $"the label map would take {bytes} bytes; this server allows {limit} per request"
                : $"the request would produce {bytes} bytes of heatmaps ({methods} methods × {layers} layers × {voxels} voxels × 4 bytes); this server allows {limit} per request: ask for fewer methods or layers, or split the volume");
        }
    }

    /// <summary>Batch size with the default 8 for 0.</summary>
    public static int Batch(int value, string field)
        => value == 0 ? 8 : value is > 0 and <= MaxBatch ? value : throw new InvalidRequestException($"{field} is {value}; allowed: 0 (default 8) or 1..{MaxBatch}");

    /// <summary>Chunk size in bytes: the server's unless the request asks for less (at least 1 KiB).</summary>
    public static int ChunkBytes(int requested, int server, string field)
        => requested == 0 ? server : requested >= 1024 && requested <= server ? requested : throw new InvalidRequestException($"{field} is {requested}; allowed: 0 (server default {server}) or 1024..{server}");

    private static int ClassIndex(ModelCard card, string value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new InvalidRequestException($"target_class is empty; give a class name or index of model '{card.Id}': {string.Join(", ", card.Classes.Select((c, i) => $"{i} {c}"))}");
        }

        return card.ClassIndex(value);
    }

    private static AnatomicalAxis Axis(string value)
    {
        try
        {
            return SliceAxes.Parse(value);
        }
        catch (SegCamException ex)
        {
            throw new InvalidRequestException($"slices.axis: {ex.Message}", ex);
        }
    }

    private static SliceRange? SliceRange(Proto.SliceSelection? slices)
    {
        if (slices is null || (slices.First == 0 && slices.Count == 0))
        {
            return null;
        }

        if (slices.First < 0 || slices.Count < 0)
        {
            throw new InvalidRequestException($"slices.first {slices.First} and slices.count {slices.Count} must not be negative (count 0 = to the end)");
        }

        return new SliceRange(slices.First, slices.Count);
    }

    private static string Require(string value, string field)
        => string.IsNullOrWhiteSpace(value) ? throw new InvalidRequestException($"{field} holds an empty id; allowed: {string.Join(", ", CamMethodNames.All)}") : value;

    private static InvalidRequestException Unknown<T>(string field, T value, string allowed) => new($"{field} is {value}; allowed: {allowed}");
}
