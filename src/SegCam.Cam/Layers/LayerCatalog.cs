using SegCam.Common.Errors;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;

namespace SegCam.Cam.Layers;

/// <summary>A candidate target activation.</summary>
/// <param name="Name">Exact ONNX tensor name.</param>
/// <param name="OpType">The producing operator.</param>
/// <param name="Shape">Probed shape (N, K, spatial…).</param>
/// <param name="Role">"encoder level n", "bottleneck", "decoder level n" or "output".</param>
/// <param name="IsDefault">The default target: the deepest layer on the bottleneck side.</param>
public sealed record LayerInfo(string Name, string OpType, long[] Shape, string Role, bool IsDefault);

/// <summary>
/// Lists candidate target layers (float rank-4/5 outputs of Conv, ConvTranspose, normalisation and activation nodes)
/// with a role from the graph: scales are ranked by voxel count along the path from input to output; tensors before
/// the first coarsest-scale tensor are encoder levels, those at the coarsest scale the bottleneck, and later ones
/// decoder levels numbered like the encoder level of the same scale.
/// </summary>
public static class LayerCatalog
{
    private static readonly HashSet<string> Producers = new(StringComparer.Ordinal)
    {
        "Conv", "ConvTranspose", "BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization",
        "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Gelu", "Clip", "Softplus", "Mish",
    };

    /// <summary>Candidates in topological order, probed at <paramref name="inputShape"/>.</summary>
    public static IReadOnlyList<LayerInfo> List(SegmentationModel model, long[] inputShape)
    {
        var info = model.Probe(inputShape);
        var index = new GraphIndex(model.Proto.Graph);
        var candidates = new List<(string Name, string Op, long[] Shape, long Voxels)>();
        foreach (var node in index.Order)
        {
            if (node.Domain.Length > 0 || !Producers.Contains(node.OpType) || node.Output.Count == 0)
            {
                continue;
            }

            var name = node.Output[0];
            if (info.TryGetValue(name, out var t) && TensorValues.IsFloat(t.ElemType) && t.Rank is 4 or 5 && t.Rank == inputShape.Length)
            {
                candidates.Add((name, node.OpType, t.Shape, t.Shape.Skip(2).Aggregate(1L, (a, d) => a * d)));
            }
        }

        if (candidates.Count == 0)
        {
            return [];
        }

        var coarsest = candidates.Min(c => c.Voxels);
        var firstCoarse = candidates.FindIndex(c => c.Voxels == coarsest);
        var encoderScales = candidates.Take(firstCoarse).Select(c => c.Voxels).Distinct().OrderByDescending(v => v).ToList();
        var outputs = model.Proto.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var roles = new string[candidates.Count];
        for (var i = 0; i < candidates.Count; i++)
        {
            var c = candidates[i];
            if (c.Voxels == coarsest)
            {
                roles[i] = "bottleneck";
            }
            else if (i < firstCoarse)
            {
                roles[i] = $"encoder level {encoderScales.IndexOf(c.Voxels) + 1}";
            }
            else if (outputs.Contains(c.Name))
            {
                roles[i] = "output";
            }
            else
            {
                // Decoder tensors take the level of the encoder scale they match, or of the nearest finer one.
                var level = encoderScales.Count(v => v >= c.Voxels);
                roles[i] = $"decoder level {Math.Max(1, level)}";
            }
        }

        var isClassifier = info.TryGetValue(model.Output, out var o) && o.Rank == 2;
        var defaultIndex = isClassifier ? candidates.FindLastIndex(c => c.Voxels == coarsest) : LastIndexOfRole(roles, "bottleneck");
        return candidates.Select((c, i) => new LayerInfo(c.Name, c.Op, c.Shape, roles[i], i == defaultIndex)).ToList();
    }

    /// <summary>
    /// Resolves a user's layer: an exact tensor name, a role ("bottleneck", "encoder level 1", …; the last tensor with that role,
    /// i.e. the block's output), "default", or null for the default.
    /// </summary>
    public static string Resolve(SegmentationModel model, long[] inputShape, string? layer)
    {
        var info = model.Probe(inputShape);
        if (layer is not null && info.ContainsKey(layer))
        {
            return layer;
        }

        var layers = List(model, inputShape);
        if (layer is null || layer.Equals("default", StringComparison.OrdinalIgnoreCase))
        {
            return layers.FirstOrDefault(l => l.IsDefault)?.Name
                   ?? throw new TargetNotFoundException($"'{model.Name}' has no candidate target layer; name a tensor with --layer");
        }

        var byRole = layers.LastOrDefault(l => l.Role.Equals(layer.Trim(), StringComparison.OrdinalIgnoreCase));
        if (byRole is not null)
        {
            return byRole.Name;
        }

        var rolesAvailable = string.Join(", ", layers.Select(l => l.Role).Distinct());
        throw new TargetNotFoundException($"layer '{layer}' is neither a tensor of '{model.Name}' nor a role; roles: {rolesAvailable}; list tensors with 'segcam layers'");
    }

    private static int LastIndexOfRole(string[] roles, string role) => Array.LastIndexOf(roles, role);
}
