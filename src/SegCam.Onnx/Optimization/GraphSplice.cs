using SegCam.Onnx.Graph;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Optimization;

/// <summary>Node-for-nodes replacement in a graph, keeping every other node where it was.</summary>
internal static class GraphSplice
{
    /// <summary>Decides, for one node, whether to replace it (and possibly others) and with what.</summary>
    public delegate bool Rewrite(GraphIndex index, GraphBuilder builder, NodeProto node, Dictionary<NodeProto, List<NodeProto>> replacements);

    /// <summary>Applies <paramref name="rewrite"/> to every node not already replaced; splices the replacements in place.</summary>
    public static int Replace(GraphProto graph, int opset, Rewrite rewrite)
    {
        var index = new GraphIndex(graph);
        var replacements = new Dictionary<NodeProto, List<NodeProto>>(ReferenceEqualityComparer.Instance);
        var builder = new GraphBuilder(graph, opset);
        var rewritten = 0;
        foreach (var node in graph.Node.ToArray())
        {
            if (!replacements.ContainsKey(node) && rewrite(index, builder, node, replacements))
            {
                rewritten++;
            }
        }

        if (rewritten == 0)
        {
            return 0;
        }

        var nodes = new List<NodeProto>(graph.Node.Count + (2 * rewritten));
        foreach (var node in graph.Node)
        {
            if (replacements.TryGetValue(node, out var instead))
            {
                nodes.AddRange(instead);
            }
            else
            {
                nodes.Add(node);
            }
        }

        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        return rewritten;
    }

    /// <summary>Takes the node the builder just appended back out of the graph, to be placed by the caller.</summary>
    public static NodeProto Detach(GraphBuilder b)
    {
        var node = b.Graph.Node[^1];
        b.Graph.Node.RemoveAt(b.Graph.Node.Count - 1);
        return node;
    }
}
