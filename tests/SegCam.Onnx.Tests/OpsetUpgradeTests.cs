using Microsoft.ML.OnnxRuntime;
using SegCam.Common.Errors;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Tests;

/// <summary>
/// Models of opset 7–10 are upgraded to 11: ONNX Runtime runs the original and the upgraded model to the same
/// output (it implements the old operators natively), and the upgraded Upsample is differentiated like any Resize.
/// </summary>
public sealed class OpsetUpgradeTests
{
    public static TheoryData<string> Cases() => new(
        "Upsample9Nearest", "Upsample9Linear", "Upsample7Attribute", "Upsample9Nearest3d", "Resize10Linear", "Slice9", "Pad9", "Clip9", "BatchNorm7Spatial");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Upgraded_model_computes_what_ORT_computes_for_the_original(string name)
    {
        var g = Build(name);
        var count = (int)g.InputShape.Aggregate(1L, (a, d) => a * d);
        var random = new Random(3);
        var x = Enumerable.Range(0, count).Select(_ => (float)TestGraph.Normal(random)).ToArray();
        var upgraded = OpsetUpgrade.ToOpset11(g.Model);

        Assert.Equal(11, upgraded.OpsetImport.Single().Version);
        Assert.DoesNotContain(upgraded.Graph.Node, n => n.OpType == "Upsample");
        var before = Run(g.Model, g.InputShape, x);
        var after = Run(upgraded, g.InputShape, x);
        Assert.Equal(before.Length, after.Length);
        for (var i = 0; i < before.Length; i++)
        {
            Assert.True(Math.Abs(before[i] - after[i]) <= 1e-6f * (1 + Math.Abs(before[i])), $"{name}[{i}]: {before[i]} vs {after[i]}");
        }
    }

    [Theory]
    [InlineData("Upsample9Nearest")]
    [InlineData("Upsample9Linear")]
    [InlineData("Upsample9Nearest3d")]
    [InlineData("Resize10Linear")]
    public void Upgraded_upsample_gradient_matches_finite_differences(string name)
    {
        var g = Build(name);
        g.Replace(OpsetUpgrade.ToOpset11(g.Model));
        var error = GradientCheck.Run(g, linear: true);
        Assert.True(error < 1e-4, $"relative error {error:E2}");
    }

    [Fact]
    public void Opset_below_7_is_refused_with_the_fix()
    {
        var g = new TestGraph(6, 1, 1, 2, 2);
        g.Output(g.Node("Relu", ["a"]));
        var ex = Assert.Throws<ModelFormatException>(() => OpsetUpgrade.ToOpset11(g.Model));
        Assert.Contains("version converter", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Opset_11_and_newer_is_returned_unchanged()
    {
        var g = new TestGraph(13, 1, 1, 2, 2);
        g.Output(g.Node("Relu", ["a"]));
        Assert.Same(g.Model, OpsetUpgrade.ToOpset11(g.Model));
    }

    private static TestGraph Build(string name)
    {
        TestGraph g;
        switch (name)
        {
            case "Upsample9Nearest":
                g = new TestGraph(9, 1, 2, 3, 4);
                g.Output(g.Node("Upsample", ["a", g.Const([4], [1, 1, 2, 3])], A.S("mode", "nearest")));
                break;
            case "Upsample9Linear":
                g = new TestGraph(9, 1, 2, 3, 4);
                g.Output(g.Node("Upsample", ["a", g.Const([4], [1, 1, 2, 2])], A.S("mode", "linear")));
                break;
            case "Upsample7Attribute":
                g = new TestGraph(7, 1, 2, 3, 4);
                g.Output(g.Node("Upsample", ["a"], A.S("mode", "nearest"), Graph.Attr.Floats("scales", [1, 1, 2, 2])));
                break;
            case "Upsample9Nearest3d":
                g = new TestGraph(9, 1, 1, 2, 3, 2);
                g.Output(g.Node("Upsample", ["a", g.Const([5], [1, 1, 2, 2, 2])], A.S("mode", "nearest")));
                break;
            case "Resize10Linear":
                g = new TestGraph(10, 1, 2, 3, 4);
                g.Output(g.Node("Resize", ["a", g.Const([4], [1, 1, 2, 1.5f])], A.S("mode", "linear")));
                break;
            case "Slice9":
                g = new TestGraph(9, 1, 2, 6, 5);
                g.Output(g.Node("Slice", ["a"], A.Is("starts", 1, 0), A.Is("ends", 5, 4), A.Is("axes", 2, 3)));
                break;
            case "Pad9":
                g = new TestGraph(9, 1, 2, 3, 3);
                g.Output(g.Node("Pad", ["a"], A.Is("pads", 0, 0, 1, 0, 0, 0, 0, 2), A.F("value", 0.5f)));
                break;
            case "Clip9":
                g = new TestGraph(9, 1, 2, 3, 3);
                g.Output(g.Node("Clip", ["a"], A.F("min", -0.5f), A.F("max", 0.7f)));
                break;
            case "BatchNorm7Spatial":
                g = new TestGraph(7, 1, 2, 3, 3);
                g.Output(g.Node("BatchNormalization", ["a", g.Const([2]), g.Const([2]), g.Const([2]), g.Const([2], [0.5f, 2f])], A.I("spatial", 1)));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(name), name, null);
        }

        return g;
    }

    private static float[] Run(ModelProto model, long[] shape, float[] x)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(OnnxModelFile.ToBytes(model), options);
        using var value = OrtValue.CreateTensorValueFromMemory(x, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["a"], [value], ["y"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
