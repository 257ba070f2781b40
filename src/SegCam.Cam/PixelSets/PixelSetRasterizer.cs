using SegCam.Common.Errors;

namespace SegCam.Cam.PixelSets;

/// <summary>Turns a <see cref="PixelSet"/> into the uint8 mask [N,1,spatial…] the augmented graph takes.</summary>
internal static class PixelSetRasterizer
{
    /// <summary>The mask's length in bytes: one per output voxel of every batch item.</summary>
    public static int Length(long batch, long[] spatial) => checked((int)(batch * spatial.Aggregate(1L, (a, d) => checked(a * d))));

    /// <summary>Writes every byte of <paramref name="mask"/> (of <see cref="Length"/> bytes); checks the set before writing any.</summary>
    /// <remarks>Callers pass a reused buffer: a fresh one costs its page faults on every request (2–7 ms for the
    /// 0.5 MiB of a batch of 8 at 256×256 on the 2-core VM, more than the rest of the request's managed work).</remarks>
    public static void Rasterize(PixelSet set, long batch, long[] spatial, Span<byte> mask)
    {
        var perItem = spatial.Aggregate(1L, (a, d) => a * d);
        if (mask.Length != batch * perItem)
        {
            throw new ArgumentException($"the mask buffer has {mask.Length} bytes; [{batch}, {string.Join(", ", spatial)}] needs {batch * perItem}", nameof(mask));
        }

        switch (set)
        {
            case AllPixels:
                mask.Fill(1);
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
    }

    private static void FillMask(MaskPixels m, Span<byte> mask, long batch, long[] spatial, long perItem)
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

        for (var i = 0; i < mask.Length; i++)
        {
            mask[i] = m.Values[shared ? i % perItem : i] ? (byte)1 : (byte)0;
        }
    }

    private static void FillBox(BoxPixels box, Span<byte> mask, long batch, long[] spatial, long perItem)
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

        mask.Clear();
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
                    mask[(int)((n * perItem) + flat)] = 1;
                }
            }
        }
    }
}
