using System.Globalization;

namespace SegCam.Cam.Models;

/// <summary>How raw image intensities (e.g. CT Hounsfield units) become model input values.</summary>
public enum IntensityKind
{
    /// <summary>Values are fed as they are.</summary>
    None,

    /// <summary>Clip to [center − width/2, center + width/2], then map linearly onto [OutputMin, OutputMax] (a CT window).</summary>
    Window,

    /// <summary>(x − Mean) / Std.</summary>
    Normalize,
}

/// <summary>The intensity preprocessing a model was trained with (part of its model card).</summary>
public sealed record IntensityPreprocessing
{
    /// <summary>No preprocessing.</summary>
    public static IntensityPreprocessing Identity { get; } = new();

    /// <summary>Which transform.</summary>
    public IntensityKind Kind { get; init; } = IntensityKind.None;

    /// <summary>Window centre (e.g. 40 HU for soft tissue).</summary>
    public double Center { get; init; }

    /// <summary>Window width (e.g. 400 HU).</summary>
    public double Width { get; init; } = 1;

    /// <summary>Value the window's lower edge maps to.</summary>
    public double OutputMin { get; init; }

    /// <summary>Value the window's upper edge maps to.</summary>
    public double OutputMax { get; init; } = 1;

    /// <summary>Mean subtracted by <see cref="IntensityKind.Normalize"/>.</summary>
    public double Mean { get; init; }

    /// <summary>Standard deviation divided by <see cref="IntensityKind.Normalize"/>.</summary>
    public double Std { get; init; } = 1;

    /// <summary>Transforms <paramref name="values"/> in place.</summary>
    public void Apply(Span<float> values)
    {
        switch (Kind)
        {
            case IntensityKind.Window:
                var low = Center - (Width / 2);
                var scale = (OutputMax - OutputMin) / Width;
                for (var i = 0; i < values.Length; i++)
                {
                    var clipped = Math.Clamp(values[i], low, low + Width);
                    values[i] = (float)(OutputMin + ((clipped - low) * scale));
                }

                break;
            case IntensityKind.Normalize:
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = (float)((values[i] - Mean) / Std);
                }

                break;
        }
    }

    /// <summary>Problems with the parameters (empty when valid).</summary>
    public IEnumerable<string> Problems()
    {
        if (Kind == IntensityKind.Window && !(Width > 0 && double.IsFinite(Width) && double.IsFinite(Center)))
        {
            yield return $"preprocessing window width must be positive and finite (got center {Center}, width {Width})";
        }

        if (Kind == IntensityKind.Window && !(OutputMax > OutputMin))
        {
            yield return $"preprocessing window output range [{OutputMin}, {OutputMax}] must be increasing";
        }

        if (Kind == IntensityKind.Normalize && !(Std > 0 && double.IsFinite(Std) && double.IsFinite(Mean)))
        {
            yield return $"preprocessing normalize needs a finite mean and a positive std (got mean {Mean}, std {Std})";
        }
    }

    public override string ToString() => Kind switch
    {
        IntensityKind.Window => string.Create(CultureInfo.InvariantCulture, $"window {Center}±{Width / 2} → [{OutputMin}, {OutputMax}]"),
        IntensityKind.Normalize => string.Create(CultureInfo.InvariantCulture, $"(x − {Mean}) / {Std}"),
        _ => "none",
    };
}
