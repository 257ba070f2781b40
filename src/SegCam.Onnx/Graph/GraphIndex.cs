using SegCam.Common.Errors;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Graph;

/// <summary>Producer/consumer maps and a topological order of a graph's nodes.</summary>
public sealed class GraphIndex
{
    private readonly Dictionary<string, NodeProto> _producer = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TensorProto> _initializers = new(StringComparer.Ordinal);

    /// <summary>Indexes <paramref name="graph"/>; fails on a cycle.</summary>
    public GraphIndex(GraphProto graph)
    {
        Graph = graph;
        foreach (var t in graph.Initializer)
        {
            _initializers[t.Name] = t;
        }

        foreach (var node in graph.Node)
        {
            foreach (var o in node.Output.Where(o => o.Length > 0))
            {
                _producer[o] = node;
            }

            foreach (var i in node.Input.Where(i => i.Length > 0))
            {
                if (!_consumers.TryGetValue(i, out var list))
                {
                    _consumers[i] = list = [];
                }

                list.Add(node);
            }
        }

        Order = TopologicalSort(graph);
    }

    /// <summary>The indexed graph.</summary>
    public GraphProto Graph { get; }

    /// <summary>Nodes in a topological order (computed here, not trusted from the file).</summary>
    public IReadOnlyList<NodeProto> Order { get; }

    /// <summary>The node producing <paramref name="tensor"/>, or null for inputs and initializers.</summary>
    public NodeProto? Producer(string tensor) => _producer.GetValueOrDefault(tensor);

    /// <summary>The nodes reading <paramref name="tensor"/>.</summary>
    public IReadOnlyList<NodeProto> Consumers(string tensor) => _consumers.TryGetValue(tensor, out var l) ? l : [];

    /// <summary>The initializer named <paramref name="name"/>, if any.</summary>
    public TensorProto? Initializer(string name) => _initializers.GetValueOrDefault(name);

    /// <summary>True when some node produces the tensor, or it is a graph input or initializer.</summary>
    public bool Exists(string tensor)
        => _producer.ContainsKey(tensor) || _initializers.ContainsKey(tensor) || Graph.Input.Any(i => i.Name == tensor);

    private List<NodeProto> TopologicalSort(GraphProto graph)
    {
        var available = new HashSet<string>(StringComparer.Ordinal) { string.Empty };
        available.UnionWith(graph.Input.Select(i => i.Name));
        available.UnionWith(graph.Initializer.Select(i => i.Name));
        var pending = new Dictionary<NodeProto, int>(ReferenceEqualityComparer.Instance);
        var ready = new Queue<NodeProto>();
        foreach (var node in graph.Node)
        {
            var missing = node.Input.Where(i => !available.Contains(i) && _producer.ContainsKey(i)).Distinct().Count();
            var unknown = node.Input.FirstOrDefault(i => !available.Contains(i) && !_producer.ContainsKey(i));
            if (unknown is not null)
            {
                throw new ModelFormatException($"node '{node.Name}' ({node.OpType}) reads tensor '{unknown}', which no node, input or initializer provides");
            }

            pending[node] = missing;
            if (missing == 0)
            {
                ready.Enqueue(node);
            }
        }

        var order = new List<NodeProto>(graph.Node.Count);
        var done = new HashSet<string>(StringComparer.Ordinal);
        while (ready.Count > 0)
        {
            var node = ready.Dequeue();
            order.Add(node);
            foreach (var o in node.Output.Where(o => o.Length > 0 && done.Add(o)))
            {
                foreach (var c in Consumers(o).Distinct())
                {
                    if (--pending[c] == 0)
                    {
                        ready.Enqueue(c);
                    }
                }
            }
        }

        if (order.Count != graph.Node.Count)
        {
            throw new ModelFormatException("the graph has a cycle: its nodes cannot be ordered");
        }

        return order;
    }
}
