using Microsoft.ML.OnnxRuntime;
using SegCam.Cam.Methods;
using SegCam.Common.Errors;
using SegCam.Onnx.Autodiff;
using SegCam.Onnx.Graph;
using SegCam.Onnx.Model;
using SegCam.Onnx.Optimization;
using SegCam.Onnx.Precision;
using SegCam.Onnx.Probing;
using SegCam.Onnx.Protocol;

namespace SegCam.Cam.Graphs;

/// <summary>
/// Builds the augmented model: forward + seed from (mask, class) + backward to the target layer + every
/// requested CAM, so one ORT run does it all and changing the pixel set or the class never recompiles
/// (AUTODIFF.md 1.5).
/// </summary>
internal static class AugmentedModelBuilder
{
    /// <param name="source">The model.</param>
    /// <param name="layers">Target layers (exact tensor names).</param>
    /// <param name="inputShape">The input shape the session is compiled for.</param>
    /// <param name="options">CAM options.</param>
    /// <param name="cpuLayout">True when the session runs on ORT's CPU provider: float32 graphs are then rewritten so the
    /// backward pass stays in ORT's NCHWc layout (<see cref="NchwcLayoutRewrite"/>).</param>
    public static AugmentedModel Build(SegmentationModel source, IReadOnlyList<string> layers, long[] inputShape, CamOptions options, bool cpuLayout = false)
    {
        options.Validate();
        var model = source.Proto.Clone();
        var graph = model.Graph;
        var info = source.Probe(inputShape);
        var index = new GraphIndex(graph);
        if (layers.Count == 0 || layers.Distinct(StringComparer.Ordinal).Count() != layers.Count)
        {
            throw new InvalidRequestException($"target layers [{string.Join(", ", layers)}] must name at least one layer, each once");
        }

        foreach (var layer in layers)
        {
            if (!info.TryGetValue(layer, out var activationInfo))
            {
                throw new TargetNotFoundException($"layer '{layer}' is not a tensor of the model; list candidates with 'segcam layers'");
            }

            if (!TensorValues.IsFloat(activationInfo.ElemType) || activationInfo.Rank < 3)
            {
                throw new InvalidRequestException($"layer '{layer}' has element type {activationInfo.ElemType} and shape [{string.Join(", ", activationInfo.Shape)}]; a float tensor (N, channels, spatial…) is required");
            }
        }

        var target = TargetResolver.Resolve(index, info, source.Output);
        var logitsShape = info[target.Logits].Shape;
        var b = new GraphBuilder(graph, source.Opset, TensorValues.Float);
        var spatialOut = logitsShape[2..];
        long batch = inputShape[0];
        long classes = logitsShape[1];
        long[] maskShape = [batch, 1, .. spatialOut];
        var mask = b.AddInput("mask", TensorValues.UInt8, maskShape);
        var cls = b.AddInput("class", TensorValues.Int64, [batch]);
        var usePredicted = b.AddInput("use_predicted", TensorValues.Bool, [1]);

        // Seed: dS/dlogits for S = Σ mask ⊙ z_c, with z = logits or probabilities.
        var ones = Enumerable.Repeat(1L, spatialOut.Length).ToArray();
        var classIds = b.Initializer(TensorValues.FromLongs(string.Empty, Enumerable.Range(0, (int)classes).Select(i => (long)i).ToArray(), [1, classes, .. ones]), "class_ids");
        var clsB = b.Reshape(cls, [batch, 1, .. ones], "seed");
        var oneHot = b.Cast(b.Op("Equal", "seed", [classIds, clsB]), TensorValues.Float, "seed");
        // The If reads the logits from the outer graph, whose float64 conversion renames them: float32 graphs only.
        var predictedFactor = cpuLayout && options.Precision == CamPrecision.Float32
            ? b.Cast(ConditionalPredictedRegion(b, usePredicted, target.Logits, clsB, classes, maskShape), TensorValues.Float, "seed")
            : b.Where(usePredicted, b.Cast(PredictedRegion(b, target.Logits, clsB, classes), TensorValues.Float, "seed"), b.Scalar(1), "seed");
        var effectiveMask = b.Mul(b.Cast(mask, TensorValues.Float, "seed"), predictedFactor, "seed");
        var seed = b.Mul(effectiveMask, oneHot, "seed");
        var pixelCount = b.ReduceSum(effectiveMask, Enumerable.Range(1, maskShape.Length - 1).Select(i => (long)i).ToArray(), keepDims: false, "pixel_count");
        if (options.Target == CamTarget.Probabilities)
        {
            seed = ProbabilitySeed(b, target, seed, classes);
        }

        var needGradient = options.Methods.Any(m => m.NeedsGradient()) || options.ExportTensors;
        var gradients = needGradient ? BackwardBuilder.AppendMany(b, index, info, layers, target.Logits, seed) : null;
        var inputSpatial = inputShape[2..];
        var emitted = new List<(string Layer, long[] Shape, Dictionary<CamMethod, string> Cams, string? Gradient)>();
        for (var l = 0; l < layers.Count; l++)
        {
            var layer = layers[l];
            var camOutputs = new Dictionary<CamMethod, string>();
            long[] activationShape = info[layer].Shape;
            long[] mapShape = [activationShape[0], 1, .. activationShape[2..]];
            if (gradients is not null)
            {
                var nonNegative = index.Producer(layer) is { OpType: "Relu" or "Sigmoid" };
                var head = new CamHeadEmitter(b, layer, gradients[l], activationShape, options, nonNegative);
                foreach (var (method, raw) in head.EmitAll(options.Methods.Where(m => m.NeedsGradient()).ToArray()))
                {
                    camOutputs[method] = PostProcessEmitter.Emit(b, raw, mapShape, inputSpatial, options, method.Id());
                }
            }

            emitted.Add((layer, activationShape, camOutputs, gradients?[l]));
        }

        graph.Output.Clear();
        b.AddOutput(target.Logits, TensorValues.Float);
        b.AddOutput(pixelCount, TensorValues.Float);
        var exportActivation = options.ExportTensors || options.Methods.Contains(CamMethod.SegEigenCam);
        var heads = new List<LayerHead>();
        foreach (var (layer, activationShape, camOutputs, gradient) in emitted)
        {
            foreach (var name in camOutputs.Values)
            {
                b.AddOutput(name, TensorValues.Float);
            }

            if (exportActivation)
            {
                b.AddOutput(layer, TensorValues.Float);
            }

            string? gradientOutput = null;
            if (options.ExportTensors && gradient is not null)
            {
                gradientOutput = gradient == layer || graph.Output.Any(o => o.Name == gradient) ? b.Op("Identity", "gradient", [gradient]) : gradient;
                b.AddOutput(gradientOutput, TensorValues.Float);
            }

            heads.Add(new LayerHead(layer, activationShape, camOutputs, exportActivation ? layer : null, gradientOutput));
        }

        StaticShapes.Pin(graph, source.Input, inputShape);
        if (cpuLayout && options.Precision == CamPrecision.Float32)
        {
            NchwcLayoutRewrite.Apply(graph, source.Opset, name => info.TryGetValue(name, out var t) ? t.Shape : null);
        }

        if (options.Precision == CamPrecision.Float64)
        {
            model = Float64Conversion.Convert(model, names => ProbeAugmented(model, source.Input, inputShape, mask, maskShape, cls, usePredicted, names));
        }

        return new AugmentedModel
        {
            Model = model,
            Input = source.Input,
            InputShape = inputShape,
            MaskInput = mask,
            ClassInput = cls,
            PredictedInput = usePredicted,
            LogitsOutput = target.Logits,
            LogitsShape = logitsShape,
            PixelCountOutput = pixelCount,
            Heads = heads,
        };
    }

    // Shapes and small values of tensors of the float32 augmented model, from one run on neutral inputs.
    private static Dictionary<string, TensorInfo> ProbeAugmented(ModelProto model, string input, long[] inputShape, string mask, long[] maskShape, string cls, string usePredicted, IReadOnlyCollection<string> names)
    {
        var count = inputShape.Aggregate(1L, (a, d) => checked(a * d));
        using var x = OrtValue.CreateTensorValueFromMemory(new float[count], inputShape);
        using var m = OrtValue.CreateTensorValueFromMemory(new byte[maskShape.Aggregate(1L, (a, d) => a * d)], maskShape);
        using var c = OrtValue.CreateTensorValueFromMemory(new long[inputShape[0]], [inputShape[0]]);
        using var p = OrtValue.CreateTensorValueFromMemory(new bool[1], [1]);
        var inputs = new Dictionary<string, OrtValue>(StringComparer.Ordinal) { [input] = x, [mask] = m, [cls] = c, [usePredicted] = p };
        return ShapeProbe.Run(model, inputs, names);
    }

    /// <summary>Where the model predicts the class: argmax over classes = c (a one-class model: logit &gt; 0); bool.</summary>
    private static string PredictedRegion(GraphBuilder b, string logits, string cls, long classes) => classes > 1
        ? b.Op("Equal", "seed", [b.Op("ArgMax", "seed", [logits], Attr.Int("axis", 1), Attr.Int("keepdims", 1)), cls])
        : b.Greater(logits, b.Scalar(0), "seed");

    /// <summary>
    /// The predicted region when <paramref name="usePredicted"/> is set, else true everywhere, as an If: a box, mask or
    /// voxel request skips the ArgMax over the logits (1.8 ms of a batch of 8 at 256×256 on the 2-core VM). The branches
    /// hold only bool and integer tensors and read the logits from the outer graph. Used for float32 graphs on the CPU
    /// provider, where it was measured (the float64 conversion renames the logits in the outer graph only).
    /// </summary>
    private static string ConditionalPredictedRegion(GraphBuilder b, string usePredicted, string logits, string cls, long classes, long[] maskShape)
    {
        // The branches' nodes are emitted into the outer graph, then moved; their constants stay outer initializers.
        GraphProto Branch(string hint, Func<string> emit)
        {
            var start = b.Graph.Node.Count;
            var output = emit();
            var branch = new GraphProto { Name = b.UniqueName(hint) };
            branch.Node.AddRange(b.Graph.Node.Skip(start).ToList());
            while (b.Graph.Node.Count > start)
            {
                b.Graph.Node.RemoveAt(b.Graph.Node.Count - 1);
            }

            branch.Output.Add(new ValueInfoProto { Name = output, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = TensorValues.Bool } } });
            return branch;
        }

        var everywhere = new TensorProto { DataType = TensorValues.Bool, Dims = { 1 }, RawData = Google.Protobuf.ByteString.CopyFrom(1) };
        var thenBranch = Branch("seed/predicted_branch", () => PredictedRegion(b, logits, cls, classes));
        var elseBranch = Branch("seed/everywhere_branch", () => b.Op("ConstantOfShape", "seed", [b.Ints(maskShape)], Attr.Tensor("value", everywhere)));
        return b.Op("If", "seed", [usePredicted], Attr.Graph("then_branch", thenBranch), Attr.Graph("else_branch", elseBranch));
    }

    // dS/dlogits through our own probability transform (the model's own Softmax, wherever it sits, is not differentiated):
    // softmax: P ⊙ (seed − Σ_c seed ⊙ P); sigmoid: seed ⊙ P ⊙ (1 − P).
    private static string ProbabilitySeed(GraphBuilder b, ModelTarget target, string seed, long classes)
    {
        const string h = "seed/probabilities";
        if (classes == 1 || target.FinalActivation == "Sigmoid")
        {
            var p = b.Op("Sigmoid", h, [target.Logits]);
            return b.Mul(seed, b.Mul(p, b.Sub(b.Scalar(1), p, h), h), h);
        }

        var shifted = b.Sub(target.Logits, b.ReduceMax(target.Logits, [1], keepDims: true, h), h);
        var e = b.Op("Exp", h, [shifted]);
        var probabilities = b.Div(e, b.ReduceSum(e, [1], keepDims: true, h), h);
        var dot = b.ReduceSum(b.Mul(seed, probabilities, h), [1], keepDims: true, h);
        return b.Mul(probabilities, b.Sub(seed, dot, h), h);
    }
}
