using SegCam.Cam.Layers;
using SegCam.Common.Errors;

namespace SegCam.Cam.Models;

/// <summary>Checks a model card against the model it describes: rank, channels, input size, class count, default layer.</summary>
public static class ModelCardValidator
{
    /// <summary>Throws <see cref="ModelFormatException"/> listing every disagreement.</summary>
    public static void Validate(ModelCard card, SegmentationModel model)
    {
        ArgumentNullException.ThrowIfNull(card);
        ArgumentNullException.ThrowIfNull(model);
        var problems = new List<string>();
        var dims = model.InputDims;
        if (dims.Length != card.Dimensionality + 2)
        {
            problems.Add($"the card says {card.Dimensionality}-D but the model input has rank {dims.Length} ({(dims.Length == 4 ? "2-D" : dims.Length == 5 ? "3-D" : "neither")})");
        }
        else
        {
            if (dims[1] >= 0 && dims[1] != card.Channels)
            {
                problems.Add($"the card says {card.Channels} channel(s) but the model takes {dims[1]}");
            }

            for (var a = 0; a < card.Dimensionality; a++)
            {
                var declared = dims[2 + a];
                if (declared >= 0 && card.InputSize is null)
                {
                    problems.Add($"the model has a fixed spatial size but the card gives no input_size");
                    break;
                }

                if (declared >= 0 && card.InputSize is not null && card.InputSize[a] != declared)
                {
                    problems.Add($"input_size [{string.Join(", ", card.InputSize)}] differs from the model's [{string.Join(", ", dims[2..])}]");
                    break;
                }
            }
        }

        if (problems.Count == 0)
        {
            long[] shape = [1, card.Channels, .. ProbeSize(card, dims)];
            var logits = model.OutputShape(shape);
            if (logits.Length < 2 || logits[1] != card.Classes.Count)
            {
                problems.Add($"the card names {card.Classes.Count} classes but the model's output has shape [{string.Join(", ", logits)}]");
            }

            if (card.DefaultLayer is not null)
            {
                try
                {
                    LayerCatalog.Resolve(model, shape, card.DefaultLayer);
                }
                catch (TargetNotFoundException ex)
                {
                    problems.Add($"default_layer: {ex.Message}");
                }
            }
        }

        if (problems.Count > 0)
        {
            throw new ModelFormatException($"model card '{card.Id}' does not match model '{model.Name}': {string.Join("; ", problems)}");
        }
    }

    private static IEnumerable<long> ProbeSize(ModelCard card, long[] dims)
    {
        for (var a = 0; a < card.Dimensionality; a++)
        {
            yield return dims[2 + a] >= 0 ? dims[2 + a]
                : card.InputSize is not null ? card.InputSize[a]
                : Math.Max(card.SizeMultiple, 1) * (card.Dimensionality == 2 ? 8 : 4);
        }
    }
}
