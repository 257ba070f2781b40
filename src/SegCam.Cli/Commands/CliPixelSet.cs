namespace SegCam.Cli.Commands;

/// <summary>
/// The pixel set of <c>segcam cam</c> on a volume, parsed once from its options (exactly one of --labels/--label,
/// --pixel-set predicted|all, --bbox, --pixel), for the in-process and the server runner alike.
/// </summary>
internal abstract record CliPixelSet
{
    /// <summary>Parses the options of <paramref name="a"/>; usage errors name the options and their forms.</summary>
    public static CliPixelSet Parse(VolumeCamArguments a)
    {
        var given = new[] { a.Labels is not null, a.PixelSet is not null, a.Box is not null, a.Pixel is not null }.Count(x => x);
        if (given != 1)
        {
            throw new UsageException("a volume needs exactly one pixel set: --labels FILE --label N, --pixel-set predicted|all, --bbox i,j,k:i,j,k or --pixel i,j,k");
        }

        if (a.Labels is not null)
        {
            return new LabelMap(a.Labels, a.Label ?? throw new UsageException("--labels needs --label N (the label value that forms the pixel set)"));
        }

        if (a.PixelSet is "predicted")
        {
            return new PredictedRegion();
        }

        if (a.PixelSet is "all")
        {
            return new Everything();
        }

        if (a.Box is not null)
        {
            var parts = a.Box.Split(':');
            if (parts.Length != 2)
            {
                throw new UsageException($"--bbox '{a.Box}' must be MIN:MAX with three indices each (i,j,k:i,j,k)");
            }

            return new VoxelBox(ParseIjk(parts[0], "--bbox"), ParseIjk(parts[1], "--bbox"));
        }

        return new Voxel(ParseIjk(a.Pixel!, "--pixel"));
    }

    private static (int I, int J, int K) ParseIjk(string text, string option)
    {
        var v = CommonOptions.ParseInts(text, option, 3);
        return ((int)v[0], (int)v[1], (int)v[2]);
    }

    /// <summary>Voxels of the label map file equal to the label.</summary>
    public sealed record LabelMap(string Path, int Label) : CliPixelSet;

    /// <summary>Where the model predicts the class.</summary>
    public sealed record PredictedRegion : CliPixelSet;

    /// <summary>Every voxel.</summary>
    public sealed record Everything : CliPixelSet;

    /// <summary>min ≤ (i, j, k) &lt; max.</summary>
    public sealed record VoxelBox((int I, int J, int K) Min, (int I, int J, int K) Max) : CliPixelSet;

    /// <summary>One voxel.</summary>
    public sealed record Voxel((int I, int J, int K) Ijk) : CliPixelSet;
}
