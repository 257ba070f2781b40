using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using SegCam.Common.Errors;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Probing;
using SegCam.Onnx.Protocol;

namespace SegCam.Cam;

/// <summary>A validated ONNX segmentation (or classification) model: one float input, logits as its first output.</summary>
public sealed class SegmentationModel
{
    /// <summary>Lowest default-domain opset supported (AUTODIFF.md 1.4).</summary>
    public const int MinOpset = 11;

    private readonly ConcurrentDictionary<string, Dictionary<string, TensorInfo>> _probes = new(StringComparer.Ordinal);

    private SegmentationModel(ModelProto original, string name)
    {
        // Opsets 7-10 are brought to 11 first (Upsample becomes Resize), so every later step sees opset 11 or newer.
        var proto = OpsetUpgrade.ToOpset11(original);
        Proto = proto;
        Name = name;
        Opset = (int)(proto.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version
            ?? throw new ModelFormatException($"'{name}' imports no default-domain opset"));
        if (Opset < MinOpset)
        {
            throw new ModelFormatException($"'{name}' uses opset {Opset}; opset {MinOpset} or newer is required (convert it with the ONNX version converter)");
        }

        var contrib = proto.Graph.Node.FirstOrDefault(n => n.Domain == "com.microsoft");
        if (contrib is not null)
        {
            throw new ModelFormatException($"'{name}' contains ONNX Runtime contrib operator '{contrib.OpType}' (an ORT-optimised model); use the exporter's original file");
        }

        var initializers = proto.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = proto.Graph.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        if (inputs.Count != 1)
        {
            throw new ModelFormatException($"'{name}' has {inputs.Count} inputs ({string.Join(", ", inputs.Select(i => i.Name))}); exactly one image input is supported");
        }

        var input = inputs[0];
        if (input.Type?.TensorType is null || input.Type.TensorType.ElemType != TensorValues.Float)
        {
            throw new ModelFormatException($"'{name}': input '{input.Name}' must be a float32 tensor");
        }

        Input = input.Name;
        InputDims = input.Type.TensorType.Shape?.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1).ToArray()
            ?? throw new ModelFormatException($"'{name}': input '{input.Name}' has no declared rank");
        if (InputDims.Length < 3)
        {
            throw new ModelFormatException($"'{name}': input '{input.Name}' has rank {InputDims.Length}; (N, channels, spatial…) is required");
        }

        if (proto.Graph.Output.Count == 0)
        {
            throw new ModelFormatException($"'{name}' has no outputs");
        }

        Output = proto.Graph.Output[0].Name;
        Hash = Convert.ToHexString(SHA256.HashData(OnnxModelFile.ToBytes(proto)))[..16];
        _ = new GraphIndex(proto.Graph);
    }

    /// <summary>The model as loaded (external data inlined).</summary>
    public ModelProto Proto { get; }

    /// <summary>Display name (file path).</summary>
    public string Name { get; }

    /// <summary>Default-domain opset.</summary>
    public int Opset { get; }

    /// <summary>Input tensor name.</summary>
    public string Input { get; }

    /// <summary>Declared input dims; -1 where dynamic.</summary>
    public long[] InputDims { get; }

    /// <summary>First graph output (the logits or probabilities).</summary>
    public string Output { get; }

    /// <summary>Content hash (part of every session cache key).</summary>
    public string Hash { get; }

    /// <summary>Loads and validates a model file.</summary>
    public static SegmentationModel Load(string path) => new(OnnxModelFile.Load(path), path);

    /// <summary>Wraps an in-memory model.</summary>
    public static SegmentationModel FromProto(ModelProto proto, string name) => new(proto, name);

    /// <summary>Checks <paramref name="shape"/> against the declared input; the message names what is allowed.</summary>
    public void ValidateInputShape(IReadOnlyList<long> shape)
    {
        var expected = string.Join(", ", InputDims.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (shape.Count != InputDims.Length)
        {
            throw new InvalidRequestException($"input has shape [{string.Join(", ", shape)}] (rank {shape.Count}); the model '{Input}' takes [{expected}]");
        }

        for (var i = 0; i < shape.Count; i++)
        {
            if (shape[i] <= 0 || (InputDims[i] >= 0 && InputDims[i] != shape[i]))
            {
                throw new InvalidRequestException($"input has shape [{string.Join(", ", shape)}]; the model '{Input}' takes [{expected}] (axis {i} differs)");
            }
        }
    }

    /// <summary>A default probe shape: declared dims, batch 1, dynamic spatial axes 128 (2-D) or 64 (3-D).</summary>
    public long[] DefaultInputShape()
        => InputDims.Select((d, i) => d >= 0 ? d : i == 0 ? 1 : i == 1 ? 1 : InputDims.Length == 4 ? 128 : 64).ToArray();

    /// <summary>The shape of the first output for an input of <paramref name="inputShape"/> (probed once per shape).</summary>
    public long[] OutputShape(long[] inputShape) => Probe(inputShape)[Output].Shape;

    /// <summary>Every tensor's shape (and small values) for a zero input of <paramref name="inputShape"/>; cached per shape.</summary>
    internal Dictionary<string, TensorInfo> Probe(long[] inputShape)
    {
        ValidateInputShape(inputShape);
        return _probes.GetOrAdd(string.Join('x', inputShape), _ =>
        {
            var zeros = new float[checked((int)inputShape.Aggregate(1L, (a, d) => a * d))];
            using var value = OrtValue.CreateTensorValueFromMemory(zeros, inputShape);
            try
            {
                return ShapeProbe.Run(Proto, new Dictionary<string, OrtValue> { [Input] = value });
            }
            catch (OnnxRuntimeException ex)
            {
                throw new InvalidRequestException($"the model '{Name}' cannot run on an input of shape [{string.Join(", ", inputShape)}]: {ex.Message}", ex);
            }
        });
    }
}
