using SegCam.Cam.Models;
using SegCam.Common.Errors;

namespace SegCam.Cam.Tests.Models;

public sealed class ModelCardTests
{
    private static readonly SegmentationModel UNet = SegmentationModel.Load(Path.Combine(EngineTests.Fixtures, "models", "unet2d_bn.onnx"));

    private static ModelCard Good() => new()
    {
        Id = "unet2d-bn",
        Name = "fixture U-Net",
        Dimensionality = 2,
        Channels = 1,
        InputSize = [48, 40],
        SizeMultiple = 8,
        Preprocessing = new IntensityPreprocessing { Kind = IntensityKind.Window, Center = 40, Width = 400 },
        Classes = ["background", "kidney", "tumour"],
        TrainingSpacing = [0.8, 0.8, 3],
        DefaultLayer = "bottleneck",
        Metrics = new Dictionary<string, double> { ["dice_tumour"] = 0.81 },
    };

    [Fact]
    public void Card_round_trips_through_json()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("segcam-card-").FullName, "m.segcam.json");
        var card = Good();
        card.Save(path);
        var back = ModelCard.Load(path);
        Assert.Equal(card.Id, back.Id);
        Assert.Equal(card.Classes, back.Classes);
        Assert.Equal(card.InputSize, back.InputSize);
        Assert.Equal(card.TrainingSpacing, back.TrainingSpacing);
        Assert.Equal(card.Preprocessing, back.Preprocessing);
        Assert.Equal(0.81, back.Metrics["dice_tumour"]);
        Assert.Equal("bottleneck", back.DefaultLayer);
    }

    [Fact]
    public void Sidecar_path_replaces_the_onnx_extension()
        => Assert.Equal(Path.Combine("models", "unet.segcam.json"), ModelCard.SidecarPath(Path.Combine("models", "unet.onnx")));

    [Theory]
    [InlineData("{\"schema\":\"segcam.model-card/1\",\"id\":\"x\",\"dimensionality\":2,\"classes\":[\"a\"],\"colour\":1}", "unknown field")]
    [InlineData("{\"schema\":\"segcam.model-card/9\",\"id\":\"x\",\"dimensionality\":2,\"classes\":[\"a\"]}", "segcam.model-card/1")]
    [InlineData("{\"schema\":\"segcam.model-card/1\",\"id\":\"x\",\"dimensionality\":4,\"classes\":[\"a\"]}", "allowed: 2, 3")]
    [InlineData("{\"schema\":\"segcam.model-card/1\",\"id\":\"x\",\"dimensionality\":2}", "'classes' must be an array")]
    [InlineData("{\"schema\":\"segcam.model-card/1\",\"id\":\"x\",\"dimensionality\":2,\"classes\":[\"a\",\"A\"]}", "distinct")]
    [InlineData("{\"schema\":\"segcam.model-card/1\",\"id\":\"x\",\"dimensionality\":2,\"classes\":[\"a\"],\"preprocessing\":{\"kind\":\"window\",\"center\":0,\"width\":-5}}", "width must be positive")]
    [InlineData("{\"schema\":\"segcam.model-card/1\",\"id\":\"x\",\"dimensionality\":2,\"classes\":[\"a\"],\"preprocessing\":{\"kind\":\"gamma\"}}", "allowed: none, window, normalize")]
    [InlineData("{\"schema\":\"segcam.model-card/1\",\"id\":\"x y\",\"dimensionality\":2,\"classes\":[\"a\"]}", "letters, digits")]
    [InlineData("[1,2]", "must be a JSON object")]
    [InlineData("{not json", "not valid JSON")]
    public void Bad_cards_are_rejected_naming_the_field(string json, string expected)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("segcam-card-").FullName, "m.segcam.json");
        File.WriteAllText(path, json);
        var ex = Assert.Throws<ModelFormatException>(() => ModelCard.Load(path));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Matching_card_validates()
        => ModelCardValidator.Validate(Good(), UNet);

    [Theory]
    [InlineData("classes")]
    [InlineData("channels")]
    [InlineData("dimensionality")]
    [InlineData("size")]
    [InlineData("layer")]
    public void Card_that_disagrees_with_the_model_is_rejected(string what)
    {
        var card = what switch
        {
            "classes" => Good() with { Classes = ["background", "kidney"] },
            "channels" => Good() with { Channels = 3 },
            "dimensionality" => Good() with { Dimensionality = 3, InputSize = [8, 48, 40] },
            "size" => Good() with { InputSize = [64, 64] },
            _ => Good() with { DefaultLayer = "no-such-layer" },
        };
        var ex = Assert.Throws<ModelFormatException>(() => ModelCardValidator.Validate(card, UNet));
        Assert.Contains("does not match", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ct_window_maps_the_window_onto_the_output_range_and_clips()
    {
        var window = new IntensityPreprocessing { Kind = IntensityKind.Window, Center = 40, Width = 400 };
        float[] hu = [-1000, -160, 40, 240, 3000];
        window.Apply(hu);
        Assert.Equal([0f, 0f, 0.5f, 1f, 1f], hu);
        var z = new IntensityPreprocessing { Kind = IntensityKind.Normalize, Mean = 10, Std = 4 };
        float[] x = [2, 10, 22];
        z.Apply(x);
        Assert.Equal([-2f, 0f, 3f], x);
    }

    [Fact]
    public void Classes_are_found_by_name_or_index()
    {
        var card = Good();
        Assert.Equal(2, card.ClassIndex("Tumour"));
        Assert.Equal(1, card.ClassIndex("1"));
        var ex = Assert.Throws<TargetNotFoundException>(() => card.ClassIndex("liver"));
        Assert.Contains("2 tumour", ex.Message, StringComparison.Ordinal);
    }
}
