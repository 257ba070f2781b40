using SegCam.Onnx.Model;

namespace SegCam.Onnx.Autodiff.Rules;

/// <summary>Element-wise activations (AUTODIFF.md 2.3). Masks come from Y where possible; kinks follow PyTorch.</summary>
internal static class ActivationRules
{
    public static IEnumerable<GradientRule> All()
    {
        // Y = relu(X) ≥ 0, so Sign(Y) is exactly the mask 1[X > 0] (0 at the kink, as PyTorch): two vectorised passes
        // where Where(Y > 0, dY, 0) broadcast a scalar.
        yield return GradientRule.Unary("Relu", c =>
            c.SetGrad(0, c.B.Mul(c.Dy, c.B.Op("Sign", c.Hint, [c.Y()]), c.Hint)));

        yield return GradientRule.Unary("LeakyRelu", c =>
        {
            var alpha = c.Float("alpha", 0.01f);
            var basis = alpha >= 0 ? c.Y() : c.X();
            var scaled = c.B.Mul(c.Dy, c.Scalar(alpha), c.Hint);
            c.SetGrad(0, c.B.Where(c.B.Greater(basis, c.Scalar(0), c.Hint), c.Dy, scaled, c.Hint));
        });

        yield return new GradientRule("PRelu", static (_, s) => s == 0, c =>
        {
            var scaled = c.B.Mul(c.Dy, c.X(1), c.Hint);
            c.SetGrad(0, c.B.Where(c.B.Greater(c.X(), c.Scalar(0), c.Hint), c.Dy, scaled, c.Hint));
        });

        yield return GradientRule.Unary("Elu", c =>
        {
            var alpha = c.Float("alpha", 1.0f);
            var neg = c.B.Mul(c.Dy, c.B.Add(c.Y(), c.Scalar(alpha), c.Hint), c.Hint);
            c.SetGrad(0, c.B.Where(c.B.Greater(c.Y(), c.Scalar(0), c.Hint), c.Dy, neg, c.Hint));
        });

        yield return GradientRule.Unary("Selu", c =>
        {
            var alpha = c.Float("alpha", 1.67326319217681884765625f);
            var gamma = c.Float("gamma", 1.05070102214813232421875f);
            var pos = c.B.Mul(c.Dy, c.Scalar(gamma), c.Hint);
            var neg = c.B.Mul(c.Dy, c.B.Add(c.Y(), c.Scalar((double)gamma * alpha), c.Hint), c.Hint);
            c.SetGrad(0, c.B.Where(c.B.Greater(c.Y(), c.Scalar(0), c.Hint), pos, neg, c.Hint));
        });

        yield return GradientRule.Unary("Sigmoid", c =>
        {
            var oneMinus = c.B.Sub(c.Scalar(1), c.Y(), c.Hint);
            c.SetGrad(0, c.B.Mul(c.Dy, c.B.Mul(c.Y(), oneMinus, c.Hint), c.Hint));
        });

        yield return GradientRule.Unary("Tanh", c =>
        {
            var oneMinusSq = c.B.Sub(c.Scalar(1), c.B.Mul(c.Y(), c.Y(), c.Hint), c.Hint);
            c.SetGrad(0, c.B.Mul(c.Dy, oneMinusSq, c.Hint));
        });

        yield return GradientRule.Unary("HardSigmoid", c =>
        {
            var alpha = c.Float("alpha", 0.2f);
            var inside = c.B.Op("And", c.Hint, [c.B.Greater(c.Y(), c.Scalar(0), c.Hint), c.B.Less(c.Y(), c.Scalar(1), c.Hint)]);
            c.SetGrad(0, c.B.Where(inside, c.B.Mul(c.Dy, c.Scalar(alpha), c.Hint), c.Scalar(0), c.Hint));
        });

        yield return GradientRule.Unary("HardSwish", c =>
        {
            // d/dx x*relu6(x+3)/6: 0 below -3, x/3 + 1/2 on [-3, 3], 1 above 3 (PyTorch's hardswish_backward).
            var mid = c.B.Mul(c.Dy, c.B.Add(c.B.Div(c.X(), c.Scalar(3), c.Hint), c.Scalar(0.5), c.Hint), c.Hint);
            var upper = c.B.Where(c.B.Greater(c.X(), c.Scalar(3), c.Hint), c.Dy, mid, c.Hint);
            c.SetGrad(0, c.B.Where(c.B.Less(c.X(), c.Scalar(-3), c.Hint), c.Scalar(0), upper, c.Hint));
        });

        yield return GradientRule.Unary("Softplus", c =>
        {
            // d/dx log(1 + e^x) = sigmoid(x)
            c.SetGrad(0, c.B.Mul(c.Dy, c.B.Op("Sigmoid", c.Hint, [c.X()]), c.Hint));
        });

        yield return GradientRule.Unary("Erf", c =>
        {
            var sq = c.B.Mul(c.X(), c.X(), c.Hint);
            var e = c.B.Op("Exp", c.Hint, [c.B.Neg(sq, c.Hint)]);
            c.SetGrad(0, c.B.Mul(c.Dy, c.B.Mul(e, c.Scalar(2.0 / Math.Sqrt(Math.PI)), c.Hint), c.Hint));
        });

        yield return GradientRule.Unary("Gelu", c =>
        {
            var x = c.X();
            string derivative;
            if (c.Str("approximate", "none") == "tanh")
            {
                var k = Math.Sqrt(2.0 / Math.PI);
                var x3 = c.B.Mul(c.B.Mul(x, x, c.Hint), x, c.Hint);
                var inner = c.B.Mul(c.B.Add(x, c.B.Mul(x3, c.Scalar(0.044715), c.Hint), c.Hint), c.Scalar(k), c.Hint);
                var t = c.B.Op("Tanh", c.Hint, [inner]);
                var left = c.B.Mul(c.B.Add(t, c.Scalar(1), c.Hint), c.Scalar(0.5), c.Hint);
                var oneMinusT2 = c.B.Sub(c.Scalar(1), c.B.Mul(t, t, c.Hint), c.Hint);
                var poly = c.B.Add(c.Scalar(1), c.B.Mul(c.B.Mul(x, x, c.Hint), c.Scalar(3 * 0.044715), c.Hint), c.Hint);
                var right = c.B.Mul(c.B.Mul(c.B.Mul(x, oneMinusT2, c.Hint), poly, c.Hint), c.Scalar(0.5 * k), c.Hint);
                derivative = c.B.Add(left, right, c.Hint);
            }
            else
            {
                var phi = c.B.Mul(c.B.Add(c.B.Op("Erf", c.Hint, [c.B.Mul(x, c.Scalar(1 / Math.Sqrt(2)), c.Hint)]), c.Scalar(1), c.Hint), c.Scalar(0.5), c.Hint);
                var density = c.B.Op("Exp", c.Hint, [c.B.Mul(c.B.Mul(x, x, c.Hint), c.Scalar(-0.5), c.Hint)]);
                derivative = c.B.Add(phi, c.B.Mul(c.B.Mul(x, density, c.Hint), c.Scalar(1 / Math.Sqrt(2 * Math.PI)), c.Hint), c.Hint);
            }

            c.SetGrad(0, c.B.Mul(c.Dy, derivative, c.Hint));
        });

        yield return GradientRule.Unary("Clip", c =>
        {
            // Inclusive bounds, as ORT's own gradient builder (AUTODIFF.md 2.3 notes).
            string? lo = null, hi = null;
            if (c.B.Opset >= 11)
            {
                lo = c.HasInput(1) ? c.X(1) : null;
                hi = c.HasInput(2) ? c.X(2) : null;
            }
            else
            {
                lo = c.HasAttribute("min") ? c.Scalar(c.Float("min", float.MinValue)) : null;
                hi = c.HasAttribute("max") ? c.Scalar(c.Float("max", float.MaxValue)) : null;
            }

            string? inside = null;
            if (lo is not null)
            {
                inside = c.B.Op("Not", c.Hint, [c.B.Less(c.X(), lo, c.Hint)]);
            }

            if (hi is not null)
            {
                var below = c.B.Op("Not", c.Hint, [c.B.Greater(c.X(), hi, c.Hint)]);
                inside = inside is null ? below : c.B.Op("And", c.Hint, [inside, below]);
            }

            c.SetGrad(0, inside is null ? c.Dy : c.B.Where(inside, c.Dy, c.Scalar(0), c.Hint));
        });

        yield return GradientRule.Unary("Identity", c => c.SetGrad(0, c.Dy));

        yield return GradientRule.Unary("Dropout", c =>
        {
            if (c.HasInput(2) && c.Info(c.X(2)).Values is { } training && training.Length > 0 && training[0] != 0)
            {
                throw c.Refuse("Dropout in training mode is random; export the model in eval mode");
            }

            c.SetGrad(0, c.Dy);
        });

        yield return GradientRule.Unary("Cast", c =>
        {
            var from = c.Info(c.X()).ElemType;
            var to = (int)c.Int("to", 0);
            if (!TensorValues.IsFloat(from) || !TensorValues.IsFloat(to))
            {
                throw c.Refuse("a cast to or from a non-float type is not differentiable");
            }

            c.SetGrad(0, from == to ? c.Dy : c.B.Cast(c.Dy, from, c.Hint));
        });
    }
}
