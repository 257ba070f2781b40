using SegCam.Onnx.Autodiff.Rules;

namespace SegCam.Onnx.Autodiff;

/// <summary>The registry of gradient rules by operator type (default ONNX domain).</summary>
public static class GradientRules
{
    private static readonly Dictionary<string, GradientRule> Registry = ActivationRules.All()
        .Concat(ArithmeticRules.All())
        .Concat(StructureRules.All())
        .Concat(ConvRules.All())
        .Concat(NormalizationRules.All())
        .Concat(PoolingRules.All())
        .Append(ResizeRule.Rule())
        .ToDictionary(r => r.OpType, StringComparer.Ordinal);

    /// <summary>Version of the rule set; part of every session cache key.</summary>
    public const int Version = 2;

    /// <summary>Operators that have a rule.</summary>
    public static IReadOnlyCollection<string> Supported => Registry.Keys;

    /// <summary>The rule for <paramref name="opType"/> in the default domain, if any.</summary>
    public static GradientRule? Find(string domain, string opType)
        => domain is "" or "ai.onnx" && Registry.TryGetValue(opType, out var r) ? r : null;
}
