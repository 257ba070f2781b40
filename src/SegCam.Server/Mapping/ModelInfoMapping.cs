using System.Globalization;
using SegCam.Cam.Models;
using SegCam.Server.Models;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Server.Mapping;

/// <summary>Model cards and layer lists to <see cref="Proto.ModelInfo"/>.</summary>
internal static class ModelInfoMapping
{
    public static Proto.ModelInfo ToProto(ModelEntry entry)
    {
        var card = entry.Card;
        var layers = entry.Layers();
        var info = new Proto.ModelInfo
        {
            Id = card.Id,
            Name = card.Name,
            Dimensionality = card.Dimensionality,
            Channels = card.Channels,
            SizeMultiple = card.SizeMultiple,
            SliceAxis = card.Dimensionality == 2 ? card.SliceAxis : string.Empty,
            DefaultLayer = Cam.Layers.LayerCatalog.Resolve(entry.Model, entry.ProbeShape(), card.DefaultLayer),
            Preprocessing = Describe(card.Preprocessing),
        };
        info.Classes.Add(card.Classes);
        if (card.InputSize is { } size)
        {
            info.InputSize.Add(size);
        }

        foreach (var layer in layers)
        {
            var l = new Proto.LayerInfo { Name = layer.Name, Role = layer.Role, OpType = layer.OpType };
            l.Shape.Add(layer.Shape);
            info.Layers.Add(l);
        }

        foreach (var (key, value) in card.Metrics)
        {
            info.Metrics[key] = value;
        }

        return info;
    }

    private static string Describe(IntensityPreprocessing p) => p.Kind switch
    {
        IntensityKind.Window => string.Create(CultureInfo.InvariantCulture, $"window centre {p.Center}, width {p.Width} → [{p.OutputMin}, {p.OutputMax}]"),
        IntensityKind.Normalize => string.Create(CultureInfo.InvariantCulture, $"(x − {p.Mean}) / {p.Std}"),
        _ => "none",
    };
}
