namespace SegCam.Pipelines.Slicing;

/// <summary>2-D resampling between a slice and the model's input grid.</summary>
internal static class PlaneResampler
{
    /// <summary>
    /// Bilinear with half-pixel centres and edge clamping (PyTorch's align_corners=False, ONNX half_pixel), so a map
    /// resampled here matches what the engine's own input-resolution resize does.
    /// </summary>
    public static void Bilinear(ReadOnlySpan<float> source, int rows, int columns, Span<float> target, int targetRows, int targetColumns)
    {
        if (rows == targetRows && columns == targetColumns)
        {
            source[..(rows * columns)].CopyTo(target);
            return;
        }

        var sy = (double)rows / targetRows;
        var sx = (double)columns / targetColumns;
        for (var y = 0; y < targetRows; y++)
        {
            var fy = Math.Clamp(((y + 0.5) * sy) - 0.5, 0, rows - 1);
            var y0 = (int)fy;
            var y1 = Math.Min(y0 + 1, rows - 1);
            var wy = fy - y0;
            for (var x = 0; x < targetColumns; x++)
            {
                var fx = Math.Clamp(((x + 0.5) * sx) - 0.5, 0, columns - 1);
                var x0 = (int)fx;
                var x1 = Math.Min(x0 + 1, columns - 1);
                var wx = fx - x0;
                var top = (source[(y0 * columns) + x0] * (1 - wx)) + (source[(y0 * columns) + x1] * wx);
                var bottom = (source[(y1 * columns) + x0] * (1 - wx)) + (source[(y1 * columns) + x1] * wx);
                target[(y * targetColumns) + x] = (float)((top * (1 - wy)) + (bottom * wy));
            }
        }
    }

    /// <summary>
    /// A mask on the target grid where a cell is in when any source pixel it overlaps is in: a one-voxel pixel set
    /// survives down-sampling, and up-sampling is nearest-neighbour.
    /// </summary>
    public static bool Cover(ReadOnlySpan<bool> source, int rows, int columns, Span<bool> target, int targetRows, int targetColumns)
    {
        var any = false;
        for (var y = 0; y < targetRows; y++)
        {
            var r0 = (int)Math.Floor((double)y * rows / targetRows);
            var r1 = Math.Max(r0 + 1, (int)Math.Ceiling((double)(y + 1) * rows / targetRows));
            for (var x = 0; x < targetColumns; x++)
            {
                var c0 = (int)Math.Floor((double)x * columns / targetColumns);
                var c1 = Math.Max(c0 + 1, (int)Math.Ceiling((double)(x + 1) * columns / targetColumns));
                var hit = false;
                for (var r = r0; r < r1 && !hit; r++)
                {
                    for (var c = c0; c < c1; c++)
                    {
                        if (source[(r * columns) + c])
                        {
                            hit = true;
                            break;
                        }
                    }
                }

                target[(y * targetColumns) + x] = hit;
                any |= hit;
            }
        }

        return any;
    }

    /// <summary>Nearest-neighbour (half-pixel centres) for label maps, and for maps shown at their own (coarser) grid.</summary>
    public static void Nearest<T>(ReadOnlySpan<T> source, int rows, int columns, Span<T> target, int targetRows, int targetColumns)
    {
        for (var y = 0; y < targetRows; y++)
        {
            var r = Math.Min(rows - 1, (int)((y + 0.5) * rows / targetRows));
            for (var x = 0; x < targetColumns; x++)
            {
                var c = Math.Min(columns - 1, (int)((x + 0.5) * columns / targetColumns));
                target[(y * targetColumns) + x] = source[(r * columns) + c];
            }
        }
    }

    /// <summary>Nearest-neighbour (half-voxel centres) from a [d, h, w] grid to a [D, H, W] grid.</summary>
    public static void Nearest3D(ReadOnlySpan<float> source, int d, int h, int w, Span<float> target, int depth, int height, int width)
    {
        for (var z = 0; z < depth; z++)
        {
            var sz = Math.Min(d - 1, (int)((z + 0.5) * d / depth));
            Nearest(source.Slice(sz * h * w, h * w), h, w, target.Slice(z * height * width, height * width), height, width);
        }
    }
}
