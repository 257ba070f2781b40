using SegCam.Cam;
using SegCam.Cam.Models;
using SegCam.Common.Errors;

namespace SegCam.Cli.Commands;

/// <summary>
/// Resolves <c>--model</c>: an ONNX path (its card beside it), or the id of a model in the model directories
/// ($SEGCAM_MODEL_DIR, then models/ beside the executable).
/// </summary>
internal static class ModelLocator
{
    public static IEnumerable<string> Directories()
    {
        if (Environment.GetEnvironmentVariable("SEGCAM_MODEL_DIR") is { Length: > 0 } custom)
        {
            yield return custom;
        }

        yield return System.IO.Path.Combine(AppContext.BaseDirectory, "models");
    }

    /// <summary>The model file of <paramref name="value"/> (a path, or an id in the model directories).</summary>
    public static string Path(string value)
        => File.Exists(value)
            ? value
            : Directories().Select(d => System.IO.Path.Combine(d, value + ".onnx")).FirstOrDefault(File.Exists)
              ?? throw new InputFileNotFoundException($"model '{value}' is neither a file nor a model id in {string.Join(" or ", Directories())}; known ids: {string.Join(", ", KnownIds())}");

    /// <summary>The model and its card (the card is required).</summary>
    public static (SegmentationModel Model, ModelCard Card) Load(string value)
    {
        var path = Path(value);
        var card = ModelCard.FindFor(path) ?? throw new InputFileNotFoundException($"model '{path}' has no model card '{ModelCard.SidecarPath(path)}'; volumes need one (dimensionality, preprocessing, classes)");
        var model = SegmentationModel.Load(path);
        ModelCardValidator.Validate(card, model);
        return (model, card);
    }

    private static IEnumerable<string> KnownIds()
        => Directories().Where(Directory.Exists).SelectMany(d => Directory.GetFiles(d, "*.onnx")).Select(System.IO.Path.GetFileNameWithoutExtension).OfType<string>().DefaultIfEmpty("(none)");
}
