using Google.Protobuf;
using SegCam.Common.Errors;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Model;

/// <summary>Reads and writes ONNX <see cref="ModelProto"/> files, resolving external data.</summary>
public static class OnnxModelFile
{
    /// <summary>Largest model file accepted (protobuf's own limit is 2 GiB).</summary>
    public const long MaxModelBytes = int.MaxValue;

    /// <summary>Loads a model; tensors stored in external data files beside it are read into memory.</summary>
    /// <remarks>
    /// ONNX Runtime loses the model directory when a session is created from bytes
    /// (microsoft/onnxruntime#6696), so external initializers are inlined here once; the engine
    /// then always hands ORT a self-contained model.
    /// </remarks>
    public static ModelProto Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new InputFileNotFoundException($"model file '{path}' does not exist");
        }

        var info = new FileInfo(path);
        if (info.Length > MaxModelBytes)
        {
            throw new ModelFormatException($"model file '{path}' is {info.Length} bytes; at most {MaxModelBytes} bytes are supported (move weights to external data files)");
        }

        var bytes = File.ReadAllBytes(path);
        var model = Parse(bytes, path);
        ResolveExternalData(model, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", path);
        return model;
    }

    /// <summary>Parses a model from bytes; <paramref name="displayName"/> names it in errors.</summary>
    public static ModelProto Parse(byte[] bytes, string displayName)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new ModelFormatException($"'{displayName}' is not an ONNX model (protobuf parse failed: {ex.Message})", ex);
        }

        if (model.Graph is null || model.Graph.Node.Count == 0 || model.OpsetImport.Count == 0 || !model.HasIrVersion)
        {
            throw new ModelFormatException($"'{displayName}' is not an ONNX model: it has no graph, no nodes, no IR version or no opset import");
        }

        return model;
    }

    /// <summary>Serialises a model to bytes.</summary>
    public static byte[] ToBytes(ModelProto model) => model.ToByteArray();

    /// <summary>Writes a model to <paramref name="path"/> atomically (temp file, then rename).</summary>
    public static void Save(ModelProto model, string path)
    {
        var full = Path.GetFullPath(path);
        var temp = full + ".tmp-" + Environment.ProcessId;
        File.WriteAllBytes(temp, model.ToByteArray());
        File.Move(temp, full, overwrite: true);
    }

    private static void ResolveExternalData(ModelProto model, string directory, string displayName)
    {
        foreach (var tensor in model.Graph.Initializer)
        {
            if (tensor.DataLocation != TensorProto.Types.DataLocation.External)
            {
                continue;
            }

            string? location = null;
            long offset = 0;
            long length = -1;
            foreach (var entry in tensor.ExternalData)
            {
                switch (entry.Key)
                {
                    case "location": location = entry.Value; break;
                    case "offset": offset = long.Parse(entry.Value, System.Globalization.CultureInfo.InvariantCulture); break;
                    case "length": length = long.Parse(entry.Value, System.Globalization.CultureInfo.InvariantCulture); break;
                }
            }

            if (string.IsNullOrEmpty(location) || Path.IsPathRooted(location) || location.Contains("..", StringComparison.Ordinal))
            {
                throw new ModelFormatException($"'{displayName}': initializer '{tensor.Name}' has external data location '{location}'; a relative path inside the model directory is required");
            }

            var file = Path.Combine(directory, location);
            if (!File.Exists(file))
            {
                throw new ModelFormatException($"'{displayName}': external data file '{location}' for initializer '{tensor.Name}' does not exist beside the model");
            }

            using var stream = File.OpenRead(file);
            if (length < 0)
            {
                length = stream.Length - offset;
            }

            if (offset < 0 || length < 0 || offset + length > stream.Length || length > MaxModelBytes)
            {
                throw new ModelFormatException($"'{displayName}': initializer '{tensor.Name}' asks for bytes {offset}..{offset + length} of '{location}', which has {stream.Length} bytes");
            }

            var data = new byte[length];
            stream.Position = offset;
            stream.ReadExactly(data);
            tensor.RawData = ByteString.CopyFrom(data);
            tensor.ExternalData.Clear();
            tensor.DataLocation = TensorProto.Types.DataLocation.Default;
        }
    }
}
