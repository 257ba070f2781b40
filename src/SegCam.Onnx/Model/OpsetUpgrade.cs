using SegCam.Common.Errors;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Model;

/// <summary>
/// Brings a model of default-domain opset 7–10 to opset 11, the lowest the engine emits ops for, by rewriting the
/// operators whose signature changed on the way: Upsample (7/9) and Resize-10 become Resize-11 with the same
/// (asymmetric, floor-nearest) coordinates, and Slice-1, Pad-2 and Clip-6 move their attributes to inputs.
/// Every other operator used by segmentation models keeps its meaning between these opsets.
/// </summary>
public static class OpsetUpgrade
{
    /// <summary>The opset the upgrade produces.</summary>
    public const int Target = 11;

    /// <summary>The oldest opset accepted.</summary>
    public const int Oldest = 7;

    /// <summary>Returns <paramref name="model"/> itself when its opset is 11 or newer, else an upgraded copy.</summary>
    public static ModelProto ToOpset11(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var import = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")
                     ?? throw new ModelFormatException("the model imports no default-domain opset");
        if (import.Version >= Target)
        {
            return model;
        }

        if (import.Version < Oldest)
        {
            throw new ModelFormatException($"opset {import.Version} is too old; opset {Oldest} or newer is required (convert it with the ONNX version converter)");
        }

        var opset = (int)import.Version;
        var upgraded = model.Clone();
        upgraded.OpsetImport.Single(o => o.Domain is "" or "ai.onnx").Version = Target;
        var b = new GraphBuilder(upgraded.Graph, Target);
        var nodes = upgraded.Graph.Node.ToList();
        upgraded.Graph.Node.Clear();
        foreach (var node in nodes)
        {
            if (node.Domain is not ("" or "ai.onnx"))
            {
                upgraded.Graph.Node.Add(node);
                continue;
            }

            switch (node.OpType)
            {
                case "Upsample":
                case "Resize":
                    ToResize(b, node, opset);
                    break;
                case "Slice" when opset < 10:
                    MoveToInputs(b, node, ("starts", true), ("ends", true), ("axes", false));
                    break;
                case "Pad":
                    PadToInputs(b, node);
                    break;
                case "Clip":
                    ClipToInputs(b, node);
                    break;
                case "TopK" when opset < 10:
                    MoveToInputs(b, node, ("k", true));
                    break;
                case "BatchNormalization":
                    DropSpatial(node);
                    break;
            }

            upgraded.Graph.Node.Add(node);
        }

        return upgraded;
    }

    // Upsample-7 (scales attribute), Upsample-9 and Resize-10 (scales input) are ORT's "upsample" kernel: asymmetric
    // coordinates, nearest = floor. Resize-11 takes (X, roi, scales).
    private static void ToResize(GraphBuilder b, NodeProto node, int opset)
    {
        var mode = Str(node, "mode", "nearest");
        if (mode is not ("nearest" or "linear" or "bilinear"))
        {
            throw new UnsupportedOperatorException($"node '{node.Name}' ({node.OpType}, opset {opset}): mode '{mode}' is not supported; allowed: nearest, linear");
        }

        string scales;
        var scalesAttr = node.Attribute.FirstOrDefault(a => a.Name == "scales");
        if (scalesAttr is not null)
        {
            scales = b.Initializer(TensorValues.FromFloats(string.Empty, scalesAttr.Floats.ToArray(), scalesAttr.Floats.Count), "scales");
        }
        else if (node.Input.Count >= 2)
        {
            scales = node.Input[1];
        }
        else
        {
            throw new ModelFormatException($"node '{node.Name}' ({node.OpType}) has no scales");
        }

        var roi = b.Initializer(TensorValues.FromFloats(string.Empty, ReadOnlySpan<float>.Empty, 0), "roi");
        var x = node.Input[0];
        node.OpType = "Resize";
        node.Input.Clear();
        node.Input.Add(x);
        node.Input.Add(roi);
        node.Input.Add(scales);
        node.Attribute.Clear();
        node.Attribute.Add(Attr.Str("mode", mode == "bilinear" ? "linear" : mode));
        node.Attribute.Add(Attr.Str("coordinate_transformation_mode", "asymmetric"));
        node.Attribute.Add(Attr.Str("nearest_mode", "floor"));
    }

    private static void MoveToInputs(GraphBuilder b, NodeProto node, params (string Name, bool Required)[] attributes)
    {
        foreach (var (name, required) in attributes)
        {
            var a = node.Attribute.FirstOrDefault(x => x.Name == name);
            if (a is null)
            {
                if (required)
                {
                    throw new ModelFormatException($"node '{node.Name}' ({node.OpType}) lacks attribute '{name}'");
                }

                continue;
            }

            node.Input.Add(a.Type == AttributeProto.Types.AttributeType.Int ? b.Ints(a.I) : b.Ints([.. a.Ints]));
            node.Attribute.Remove(a);
        }
    }

    private static void PadToInputs(GraphBuilder b, NodeProto node)
    {
        var pads = node.Attribute.FirstOrDefault(a => a.Name is "pads" or "paddings");
        if (pads is null)
        {
            return;
        }

        var value = node.Attribute.FirstOrDefault(a => a.Name == "value");
        node.Input.Add(b.Ints([.. pads.Ints]));
        node.Attribute.Remove(pads);
        if (value is not null)
        {
            node.Input.Add(b.Initializer(TensorValues.FromFloats(string.Empty, [value.F]), "pad_value"));
            node.Attribute.Remove(value);
        }
    }

    private static void ClipToInputs(GraphBuilder b, NodeProto node)
    {
        var min = node.Attribute.FirstOrDefault(a => a.Name == "min");
        var max = node.Attribute.FirstOrDefault(a => a.Name == "max");
        if (min is null && max is null)
        {
            return;
        }

        node.Input.Add(min is null ? string.Empty : b.Initializer(TensorValues.FromFloats(string.Empty, [min.F]), "clip_min"));
        if (max is not null)
        {
            node.Input.Add(b.Initializer(TensorValues.FromFloats(string.Empty, [max.F]), "clip_max"));
        }

        foreach (var a in new[] { min, max }.OfType<AttributeProto>())
        {
            node.Attribute.Remove(a);
        }
    }

    // BatchNormalization-7 has 'spatial' (1 = per channel, the only meaning later opsets keep).
    private static void DropSpatial(NodeProto node)
    {
        var spatial = node.Attribute.FirstOrDefault(a => a.Name == "spatial");
        if (spatial is null)
        {
            return;
        }

        if (spatial.I != 1)
        {
            throw new UnsupportedOperatorException($"node '{node.Name}' (BatchNormalization): spatial = {spatial.I} is not supported; allowed: 1");
        }

        node.Attribute.Remove(spatial);
    }

    private static string Str(NodeProto node, string name, string fallback)
        => node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.S.ToStringUtf8() : fallback;
}
