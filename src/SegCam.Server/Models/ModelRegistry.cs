using System.Collections.Concurrent;
using SegCam.Cam;
using SegCam.Cam.Layers;
using SegCam.Cam.Models;
using SegCam.Cam.Execution;
using SegCam.Common.Errors;
using SegCam.Pipelines;

namespace SegCam.Server.Models;

/// <summary>
/// The models of the server's model directory: every <c>*.onnx</c> with a model card beside it. Cards are read at
/// start (a broken card is reported and that model left out); models are loaded on first use and kept.
/// </summary>
internal sealed class ModelRegistry
{
    private readonly IReadOnlyDictionary<string, ModelEntry> _entries;

    public ModelRegistry(string directory, Action<string> warn)
    {
        if (!Directory.Exists(directory))
        {
            throw new InputFileNotFoundException($"model directory '{directory}' does not exist; pass --models DIR with *.onnx models and their .segcam.json cards");
        }

        var entries = new Dictionary<string, ModelEntry>(StringComparer.Ordinal);
        foreach (var path in Directory.GetFiles(directory, "*.onnx").Order(StringComparer.Ordinal))
        {
            try
            {
                var card = ModelCard.FindFor(path);
                if (card is null)
                {
                    warn($"model '{path}' has no card '{ModelCard.SidecarPath(path)}'; left out");
                    continue;
                }

                if (!entries.TryAdd(card.Id, new ModelEntry(card, path)))
                {
                    warn($"model id '{card.Id}' of '{path}' is already taken; left out");
                }
            }
            catch (SegCamException ex)
            {
                warn($"model card of '{path}' is unusable ({ex.Message}); left out");
            }
        }

        Source = directory;
        _entries = entries;
    }

    /// <summary>The directory the models came from.</summary>
    public string Source { get; }

    /// <summary>Every usable model, by id.</summary>
    public IEnumerable<ModelEntry> All => _entries.Values.OrderBy(e => e.Card.Id, StringComparer.Ordinal);

    /// <summary>The model <paramref name="id"/>, or NotFound naming the ids there are.</summary>
    public ModelEntry Get(string id)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw new InvalidRequestException($"model is empty; known models: {Known()}");
        }

        return _entries.TryGetValue(id, out var entry) ? entry : throw new TargetNotFoundException($"model '{id}' not found; known models: {Known()}");
    }

    private string Known() => _entries.Count == 0 ? "(none)" : string.Join(", ", _entries.Keys.Order(StringComparer.Ordinal));
}

/// <summary>One model: its card, and the ONNX model and layer list loaded once on first use.</summary>
internal sealed class ModelEntry
{
    private readonly Lazy<SegmentationModel> _model;
    private readonly ConcurrentDictionary<string, IReadOnlyList<LayerInfo>> _layers = new(StringComparer.Ordinal);
    private IVolumePipeline? _pipeline;

    public ModelEntry(ModelCard card, string path)
    {
        Card = card;
        Path = path;
        _model = new Lazy<SegmentationModel>(() =>
        {
            var model = SegmentationModel.Load(path);
            ModelCardValidator.Validate(card, model);
            return model;
        });
    }

    public ModelCard Card { get; }

    public string Path { get; }

    public SegmentationModel Model => _model.Value;

    /// <summary>The probe input shape for the layer list: the card's fixed size, else 128² (2-D) or 64³ (3-D), one item.</summary>
    public long[] ProbeShape()
    {
        if (Card.InputSize is { } size)
        {
            return [1, Card.Channels, .. size.Select(s => (long)s)];
        }

        var side = Card.Dimensionality == 2 ? 128 : 64;
        side = (side + Card.SizeMultiple - 1) / Card.SizeMultiple * Card.SizeMultiple;
        return [1, Card.Channels, .. Enumerable.Repeat((long)side, Card.Dimensionality)];
    }

    /// <summary>The model's volume pipeline on <paramref name="engine"/> (stateless, so shared by every call; built once).</summary>
    public IVolumePipeline Pipeline(CamEngine engine)
        => _pipeline ??= VolumePipelines.For(engine, Model, Card);

    /// <summary>Candidate target layers at <see cref="ProbeShape"/>.</summary>
    public IReadOnlyList<LayerInfo> Layers()
    {
        var shape = ProbeShape();
        return _layers.GetOrAdd(string.Join('x', shape), _ => LayerCatalog.List(Model, shape));
    }
}
