using SegCam.Common.Errors;

namespace SegCam.Cam.PixelSets;

/// <summary>Turns a <see cref="PixelSet"/> into the uint8 mask [N,1,spatial…] the augmented graph takes.</summary>
internal static class PixelSetRasterizer
{
    public static byte[] Rasterize(PixelSet set, long batch, long[] spatial)
    {
        var perItem = spatial.Aggregate(1L, (a, d) => a * d);
        var mask = new byte[checked(batch * perItem)];
        switch (set)
        {
            case AllPixels:
                Array.Fill(mask, (byte)1);
                break;
            case MaskPixels m:
                FillMask(m, mask, batch, spatial, perItem);
                break;
            case BoxPixels box:
                FillBox(box, mask, batch, spatial, perItem);
                break;
            default:
                throw new InvalidRequestException($"unknown pixel set kind {set.GetType().Name}");
        }

        return mask;
    }

    private static void FillMask(MaskPixels m, byte[] mask, long batch, long[] spatial, long perItem)
    {
        var shape = m.Shape.Select(d => (long)d).ToArray();
        var shared = shape.SequenceEqual(spatial);
        var stacked = shape.Length == spatial.Length + 1 && shape[0] == batch && shape.Skip(1).SequenceEqual(spatial);
        if (!shared && !stacked)
        {
            throw new InvalidRequestException(
                $"mask shape [{string.Join(", ", shape)}] does not fit the output grid: allowed [{string.Join(", ", spatial)}] or [{batch}, {string.Join(", ", spatial)}]");
        }

        if (m.Values.Length != shape.Aggregate(1L, (a, d) => a * d))
        {
            throw new InvalidRequestException($"mask has {m.Values.Length} values but its shape [{string.Join(", ", shape)}] needs {shape.Aggregate(1L, (a, d) => a * d)}");
        }

        for (long i = 0; i < mask.LongLength; i++)
        {
            mask[i] = m.Values[shared ? i % perItem : i] ? (byte)1 : (byte)0;
        }
    }

    private static void FillBox(BoxPixels box, byte[] mask, long batch, long[] spatial, long perItem)
    {
        var dims = spatial.Length;
        if (box.Min.Length != dims || box.Max.Length != dims)
        {
            throw new InvalidRequestException($"box/voxel has {box.Min.Length} coordinates; the output grid has {dims} spatial axes [{string.Join(", ", spatial)}]");
        }

        for (var a = 0; a < dims; a++)
        {
            if (box.Min[a] < 0 || box.Max[a] > spatial[a] || box.Min[a] >= box.Max[a])
            {
                throw new InvalidRequestException(
                    $"box/voxel axis {a}: [{box.Min[a]}, {box.Max[a]}) is empty or outside the output grid 0..{spatial[a]} (min inclusive, max exclusive)");
            }
        }

        for (long flat = 0; flat < perItem; flat++)
        {
            var rest = flat;
            var inside = true;
            for (var a = dims - 1; a >= 0 && inside; a--)
            {
                var index = rest % spatial[a];
                rest /= spatial[a];
                inside = index >= box.Min[a] && index < box.Max[a];
            }

            if (inside)
            {
                for (long n = 0; n < batch; n++)
                {
                    mask[(n * perItem) + flat] = 1;
                }
            }
        }
    }
}
