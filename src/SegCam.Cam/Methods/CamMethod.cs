using SegCam.Common.Errors;

namespace SegCam.Cam.Methods;

/// <summary>The CAM methods (METHODS.md §2); ids are the CLI's and the protocol's.</summary>
public enum CamMethod
{
    /// <summary>Seg-Grad CAM: spatially averaged gradients weight the channels (Vinogradova 2020).</summary>
    SegGradCam,

    /// <summary>Seg-HiRes-Grad CAM: element-wise gradient × activation, summed over channels (Rheude, eq. 6).</summary>
    SegHiResGradCam,

    /// <summary>Seg-XRes-CAM: gradients pooled over windows, replicated back, × activation (Hasany 2023).</summary>
    SegXResCam,

    /// <summary>Seg-Grad-CAM++ closed form (pytorch-grad-cam).</summary>
    SegGradCamPlusPlus,

    /// <summary>Seg-XGrad-CAM.</summary>
    SegXGradCam,

    /// <summary>Seg-LayerCAM: positive gradients × activation.</summary>
    SegLayerCam,

    /// <summary>Seg-Eigen-CAM: first principal component of the activation (gradient-free).</summary>
    SegEigenCam,
}

/// <summary>Method ids as the CLI and the protocol spell them.</summary>
public static class CamMethodNames
{
    private static readonly (CamMethod Method, string Id)[] Table =
    [
        (CamMethod.SegGradCam, "seg-grad-cam"),
        (CamMethod.SegHiResGradCam, "seg-hires-grad-cam"),
        (CamMethod.SegXResCam, "seg-xres-cam"),
        (CamMethod.SegGradCamPlusPlus, "seg-grad-cam-pp"),
        (CamMethod.SegXGradCam, "seg-xgrad-cam"),
        (CamMethod.SegLayerCam, "seg-layer-cam"),
        (CamMethod.SegEigenCam, "seg-eigen-cam"),
    ];

    /// <summary>Every method id, in canonical order.</summary>
    public static IReadOnlyList<string> All { get; } = Table.Select(t => t.Id).ToArray();

    /// <summary>The id of <paramref name="method"/>.</summary>
    public static string Id(this CamMethod method) => Table.First(t => t.Method == method).Id;

    /// <summary>True for methods that need the gradient.</summary>
    public static bool NeedsGradient(this CamMethod method) => method != CamMethod.SegEigenCam;

    /// <summary>Parses one id; the error lists the allowed ids.</summary>
    public static CamMethod Parse(string id)
    {
        foreach (var (method, name) in Table)
        {
            if (string.Equals(name, id.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return method;
            }
        }

        throw new InvalidRequestException($"unknown CAM method '{id}'; allowed: {string.Join(", ", All)}");
    }

    /// <summary>Parses a comma-separated list, rejecting duplicates and empties.</summary>
    public static IReadOnlyList<CamMethod> ParseList(string list)
        => ParseList(list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Parses ids given one by one (e.g. a repeated protocol field), rejecting duplicates and empties.</summary>
    public static IReadOnlyList<CamMethod> ParseList(IReadOnlyCollection<string> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0)
        {
            throw new InvalidRequestException($"no CAM method given; allowed: {string.Join(", ", All)}");
        }

        var methods = parts.Select(Parse).ToList();
        var duplicate = methods.GroupBy(m => m).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidRequestException($"CAM method '{duplicate.Key.Id()}' is listed twice");
        }

        return methods;
    }
}
