using SegCam.Common.Errors;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Autodiff;

/// <summary>
/// Appends the reverse-mode sub-graph dS/dA to a model (AUTODIFF.md 1.2): slice the region between
/// the target activation A and the target tensor T, mark active tensors, sweep the region in
/// reverse topological order applying one rule per node, and sum the partials of fan-out tensors.
/// </summary>
public static class BackwardBuilder
{
    /// <summary>
    /// Emits G = dS/dA into <paramref name="builder"/>'s graph, given the seed gradient dS/dT as the
    /// tensor <paramref name="seed"/>. Returns the name of G.
    /// </summary>
    public static string Append(GraphBuilder builder, GraphIndex index, IReadOnlyDictionary<string, TensorInfo> info, string activation, string target, string seed)
        => AppendMany(builder, index, info, [activation], target, seed)[0];

    /// <summary>
    /// Emits dS/dA for every activation in <paramref name="activations"/> with ONE reverse sweep over the union of
    /// their regions: the gradient of a later layer is an intermediate of the sweep towards an earlier one, so
    /// several target layers cost one backward pass. Returns the gradient names in the order given.
    /// </summary>
    public static IReadOnlyList<string> AppendMany(GraphBuilder builder, GraphIndex index, IReadOnlyDictionary<string, TensorInfo> info, IReadOnlyList<string> activations, string target, string seed)
    {
        ArgumentNullException.ThrowIfNull(activations);
        var forward = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var backward = BackwardClosure(index, target);
        foreach (var activation in activations)
        {
            var mine = ForwardClosure(index, activation);
            if (activation != target && !mine.Any(backward.Contains))
            {
                throw new InvalidRequestException($"the target layer '{activation}' does not influence the output '{target}'");
            }

            forward.UnionWith(mine);
        }

        var region = index.Order.Where(n => forward.Contains(n) && backward.Contains(n)).ToList();

        // Activity: a float tensor is active if it is an A or produced from an active tensor through a differentiable slot.
        var active = new HashSet<string>(activations, StringComparer.Ordinal);
        var plans = new List<(NodeProto Node, GradientRule Rule, bool[] Slots)>();
        var missing = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var node in region)
        {
            var activeInputs = node.Input.Select(i => i.Length > 0 && active.Contains(i)).ToArray();
            if (!activeInputs.Any(a => a))
            {
                continue;
            }

            var floatOutputs = node.Output.Where(o => o.Length > 0 && info.TryGetValue(o, out var t) && TensorValues.IsFloat(t.ElemType)).ToList();
            if (floatOutputs.Count == 0)
            {
                continue; // Shape(A), ArgMax(A), comparisons: integer and boolean results carry no gradient.
            }

            var rule = GradientRules.Find(node.Domain, node.OpType);
            if (rule is null)
            {
                missing.Add($"{(node.Domain.Length > 0 ? node.Domain + "." : string.Empty)}{node.OpType} (node '{node.Name}')");
                continue;
            }

            var slots = new bool[node.Input.Count];
            for (var s = 0; s < slots.Length; s++)
            {
                if (!activeInputs[s])
                {
                    continue;
                }

                if (!rule.DifferentiableSlots(node, s))
                {
                    throw new UnsupportedOperatorException(
                        $"node '{node.Name}' ({node.OpType}) reads the target layer's influence through input {s} ('{node.Input[s]}'), which has no gradient rule (e.g. a weight computed from the activation)");
                }

                slots[s] = true;
            }

            if (slots.Any(s => s))
            {
                active.UnionWith(floatOutputs);
                plans.Add((node, rule, slots));
            }
        }

        if (missing.Count > 0)
        {
            throw new UnsupportedOperatorException(
                $"no gradient rule for: {string.Join(", ", missing)}. Supported operators: {string.Join(", ", GradientRules.Supported.Order(StringComparer.Ordinal))}");
        }

        if (!active.Contains(target))
        {
            throw new InvalidRequestException($"the output '{target}' does not depend differentiably on the target layer '{string.Join("', '", activations)}' (every path crosses an integer or boolean operation)");
        }

        var partials = new Dictionary<string, List<string>>(StringComparer.Ordinal) { [target] = [seed] };
        for (var p = plans.Count - 1; p >= 0; p--)
        {
            var (node, rule, slots) = plans[p];
            var outputGrads = node.Output.Select(o => partials.TryGetValue(o, out var list) ? Accumulate(builder, list, o) : null).ToArray();
            if (outputGrads.All(g => g is null))
            {
                continue;
            }

            var context = new RuleContext(node, builder, info, outputGrads, slots);
            rule.Backward(context);
            foreach (var (slot, gradient) in context.InputGradients)
            {
                var input = node.Input[slot];
                if (!partials.TryGetValue(input, out var list))
                {
                    partials[input] = list = [];
                }

                list.Add(gradient);
            }
        }

        var gradients = new List<string>();
        foreach (var activation in activations)
        {
            if (!partials.TryGetValue(activation, out var final))
            {
                throw new InvalidRequestException($"no gradient reaches the target layer '{activation}' from '{target}'");
            }

            gradients.Add(Accumulate(builder, final, activation));
        }

        return gradients;
    }

    private static string Accumulate(GraphBuilder builder, List<string> terms, string tensor)
    {
        if (terms.Count > 1)
        {
            var sum = builder.SumOf(terms, "grad/" + tensor);
            terms.Clear();
            terms.Add(sum);
        }

        return terms[0];
    }

    private static HashSet<NodeProto> ForwardClosure(GraphIndex index, string start)
    {
        var seen = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<string>([start]);
        while (stack.Count > 0)
        {
            foreach (var node in index.Consumers(stack.Pop()))
            {
                if (seen.Add(node))
                {
                    foreach (var o in node.Output.Where(o => o.Length > 0))
                    {
                        stack.Push(o);
                    }
                }
            }
        }

        return seen;
    }

    private static HashSet<NodeProto> BackwardClosure(GraphIndex index, string end)
    {
        var seen = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<string>([end]);
        while (stack.Count > 0)
        {
            if (index.Producer(stack.Pop()) is { } node && seen.Add(node))
            {
                foreach (var i in node.Input.Where(i => i.Length > 0))
                {
                    stack.Push(i);
                }
            }
        }

        return seen;
    }
}
