namespace SegCam.Cam.PixelSets;

/// <summary>
/// The pixel set M over the model output's grid (METHODS.md §1): the score sums the class logits over it.
/// <see cref="WithinPredicted"/> intersects it with the model's own prediction (argmax = c), so
/// <c>Predicted</c> is <c>All with WithinPredicted</c> and a box within the prediction is Seg-XRes-CAM's form.
/// </summary>
public abstract record PixelSet
{
    /// <summary>Keep only voxels whose predicted class is the explained class.</summary>
    public bool WithinPredicted { get; init; }

    /// <summary>Every voxel (for a classifier: S = y_c).</summary>
    public static PixelSet All() => new AllPixels();

    /// <summary>The model's predicted region of the class.</summary>
    public static PixelSet Predicted() => new AllPixels { WithinPredicted = true };

    /// <summary>A binary mask over the output grid, shaped [spatial…] (every item) or [N, spatial…] (one per item).</summary>
    public static PixelSet FromMask(bool[] values, IReadOnlyList<int> shape) => new MaskPixels(values, [.. shape]);

    /// <summary>An axis-aligned box: <paramref name="min"/> inclusive, <paramref name="max"/> exclusive, in voxel indices.</summary>
    public static PixelSet Box(IReadOnlyList<long> min, IReadOnlyList<long> max) => new BoxPixels([.. min], [.. max]);

    /// <summary>Exactly one voxel.</summary>
    public static PixelSet Voxel(IReadOnlyList<long> index) => new BoxPixels([.. index], [.. index.Select(i => i + 1)]);
}

/// <summary>Every voxel.</summary>
public sealed record AllPixels : PixelSet;

/// <summary>Caller-supplied mask.</summary>
public sealed record MaskPixels(bool[] Values, int[] Shape) : PixelSet;

/// <summary>A box (one voxel when the extent is 1 on every axis).</summary>
public sealed record BoxPixels(long[] Min, long[] Max) : PixelSet;
