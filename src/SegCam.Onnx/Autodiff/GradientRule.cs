using SegCam.Onnx.Protocol;

namespace SegCam.Onnx.Autodiff;

/// <summary>
/// The reverse-mode rule of one operator: which input slots carry gradient, and how to emit
/// their gradients from the output gradients with standard ONNX ops.
/// </summary>
/// <param name="OpType">The ONNX operator (default domain).</param>
/// <param name="DifferentiableSlots">Input slots that receive gradient; other float inputs must not depend on the target layer.</param>
/// <param name="Backward">Emits the gradients and records them with <see cref="RuleContext.SetGrad"/>.</param>
public sealed record GradientRule(string OpType, Func<NodeProto, int, bool> DifferentiableSlots, Action<RuleContext> Backward)
{
    /// <summary>A rule whose only differentiable input is slot 0.</summary>
    public static GradientRule Unary(string opType, Action<RuleContext> backward) => new(opType, static (_, s) => s == 0, backward);

    /// <summary>A rule whose every input is differentiable.</summary>
    public static GradientRule AllInputs(string opType, Action<RuleContext> backward) => new(opType, static (_, _) => true, backward);
}
