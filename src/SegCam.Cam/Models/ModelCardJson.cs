using System.Text.Json;
using System.Text.Json.Nodes;
using SegCam.Common.Errors;

namespace SegCam.Cam.Models;

/// <summary>The card's JSON form (snake_case keys), parsed field by field so every error names the field and what is allowed.</summary>
internal static class ModelCardJson
{
    private static readonly HashSet<string> Known =
    [
        "schema", "id", "name", "dimensionality", "channels", "input_size", "size_multiple", "preprocessing", "classes",
        "training_spacing", "default_layer", "slice_axis", "metrics",
    ];

    public static ModelCard Parse(string json, string source)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw new ModelFormatException($"model card '{source}' is not valid JSON: {ex.Message}", ex);
        }

        if (root is not JsonObject o)
        {
            throw new ModelFormatException($"model card '{source}' must be a JSON object");
        }

        string Where(string field) => $"model card '{source}': field '{field}'";
        var unknown = o.Select(p => p.Key).Where(k => !Known.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new ModelFormatException($"model card '{source}': unknown field(s) {string.Join(", ", unknown)}; allowed: {string.Join(", ", Known)}");
        }

        var schema = Str(o, "schema", Where) ?? throw new ModelFormatException($"{Where("schema")} is required (\"{ModelCard.SchemaId}\")");
        if (schema != ModelCard.SchemaId)
        {
            throw new ModelFormatException($"{Where("schema")} is '{schema}'; this version reads '{ModelCard.SchemaId}'");
        }

        var card = new ModelCard
        {
            Id = Str(o, "id", Where) ?? throw new ModelFormatException($"{Where("id")} is required"),
            Name = Str(o, "name", Where) ?? string.Empty,
            Dimensionality = Int(o, "dimensionality", Where) ?? throw new ModelFormatException($"{Where("dimensionality")} is required (2 or 3)"),
            Channels = Int(o, "channels", Where) ?? 1,
            InputSize = o["input_size"] is null ? null : Array(o, "input_size", Where).Select(n => AsInt(n, "input_size", Where)).ToArray(),
            SizeMultiple = Int(o, "size_multiple", Where) ?? 1,
            Preprocessing = Preprocessing(o["preprocessing"], Where),
            Classes = Array(o, "classes", Where).Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new ModelFormatException($"{Where("classes")} must list names (strings)")).ToArray(),
            TrainingSpacing = o["training_spacing"] is null ? null : Array(o, "training_spacing", Where).Select(n => AsDouble(n, "training_spacing", Where)).ToArray(),
            DefaultLayer = Str(o, "default_layer", Where),
            SliceAxis = Str(o, "slice_axis", Where) ?? "axial",
            Metrics = o["metrics"] is JsonObject m ? m.ToDictionary(p => p.Key, p => AsDouble(p.Value, "metrics." + p.Key, Where)) : new Dictionary<string, double>(),
        };
        var problems = card.Problems().ToList();
        if (problems.Count > 0)
        {
            throw new ModelFormatException($"model card '{source}': {string.Join("; ", problems)}");
        }

        return card;
    }

    public static string Format(ModelCard card)
    {
        var o = new JsonObject
        {
            ["schema"] = ModelCard.SchemaId,
            ["id"] = card.Id,
            ["name"] = card.Name,
            ["dimensionality"] = card.Dimensionality,
            ["channels"] = card.Channels,
            ["input_size"] = card.InputSize is null ? null : new JsonArray(card.InputSize.Select(s => (JsonNode)s).ToArray()),
            ["size_multiple"] = card.SizeMultiple,
            ["preprocessing"] = FormatPreprocessing(card.Preprocessing),
            ["classes"] = new JsonArray(card.Classes.Select(c => (JsonNode)c).ToArray()),
            ["training_spacing"] = card.TrainingSpacing is null ? null : new JsonArray(card.TrainingSpacing.Select(s => (JsonNode)s).ToArray()),
            ["default_layer"] = card.DefaultLayer,
            ["slice_axis"] = card.SliceAxis,
            ["metrics"] = new JsonObject(card.Metrics.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        };
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static JsonObject FormatPreprocessing(IntensityPreprocessing p) => p.Kind switch
    {
        IntensityKind.Window => new JsonObject { ["kind"] = "window", ["center"] = p.Center, ["width"] = p.Width, ["output"] = new JsonArray(p.OutputMin, p.OutputMax) },
        IntensityKind.Normalize => new JsonObject { ["kind"] = "normalize", ["mean"] = p.Mean, ["std"] = p.Std },
        _ => new JsonObject { ["kind"] = "none" },
    };

    private static IntensityPreprocessing Preprocessing(JsonNode? node, Func<string, string> where)
    {
        if (node is null)
        {
            return IntensityPreprocessing.Identity;
        }

        if (node is not JsonObject o)
        {
            throw new ModelFormatException($"{where("preprocessing")} must be an object with 'kind': none, window or normalize");
        }

        var kind = o["kind"] is JsonValue k && k.TryGetValue<string>(out var s) ? s : null;
        return kind switch
        {
            "none" => IntensityPreprocessing.Identity,
            "window" => new IntensityPreprocessing
            {
                Kind = IntensityKind.Window,
                Center = AsDouble(o["center"], "preprocessing.center", where),
                Width = AsDouble(o["width"], "preprocessing.width", where),
                OutputMin = o["output"] is JsonArray a && a.Count == 2 ? AsDouble(a[0], "preprocessing.output", where) : 0,
                OutputMax = o["output"] is JsonArray b && b.Count == 2 ? AsDouble(b[1], "preprocessing.output", where) : 1,
            },
            "normalize" => new IntensityPreprocessing
            {
                Kind = IntensityKind.Normalize,
                Mean = AsDouble(o["mean"], "preprocessing.mean", where),
                Std = AsDouble(o["std"], "preprocessing.std", where),
            },
            _ => throw new ModelFormatException($"{where("preprocessing.kind")} is '{kind}'; allowed: none, window, normalize"),
        };
    }

    private static string? Str(JsonObject o, string field, Func<string, string> where) => o[field] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => throw new ModelFormatException($"{where(field)} must be a string"),
    };

    private static int? Int(JsonObject o, string field, Func<string, string> where) => o[field] is null ? null : AsInt(o[field], field, where);

    private static int AsInt(JsonNode? n, string field, Func<string, string> where)
        => n is JsonValue v && v.TryGetValue<int>(out var i) ? i : throw new ModelFormatException($"{where(field)} must be an integer");

    private static double AsDouble(JsonNode? n, string field, Func<string, string> where)
        => n is JsonValue v && v.TryGetValue<double>(out var d) ? d : throw new ModelFormatException($"{where(field)} must be a number");

    private static JsonArray Array(JsonObject o, string field, Func<string, string> where)
        => o[field] as JsonArray ?? throw new ModelFormatException($"{where(field)} must be an array");
}
