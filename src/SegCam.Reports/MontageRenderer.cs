using SegCam.Common.Errors;
using SegCam.Volumes;
using SkiaSharp;

namespace SegCam.Reports;

/// <summary>One row of a montage: a heatmap volume and its title.</summary>
public sealed record MontageRow(string Title, Volume Heatmap);

/// <summary>
/// A PNG montage for review: for each chosen axial slice, the CT (windowed grey), the outline of a mask, and each
/// heatmap as a colour overlay (transparent where the heatmap is zero), one row per heatmap.
/// </summary>
public static class MontageRenderer
{
    private const int Margin = 18;

    // SkiaSharp's dependency-free native build has no font manager: titles need a font file (Debian: fonts-dejavu-core).
    // Without one the montage is drawn without its labels.
    private static readonly SKTypeface? LabelTypeface = FindTypeface();

    /// <summary>Renders <paramref name="slices"/> of <paramref name="ct"/> with <paramref name="outline"/> and the rows' heatmaps.</summary>
    public static byte[] RenderPng(Volume ct, Volume outline, IReadOnlyList<MontageRow> rows, IReadOnlyList<int> slices, double windowCenter = 40, double windowWidth = 400, int scale = 2)
    {
        ArgumentNullException.ThrowIfNull(ct);
        ArgumentNullException.ThrowIfNull(outline);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(slices);
        ct.Geometry.RequireSameGrid(outline.Geometry, "the outline mask");
        foreach (var row in rows)
        {
            ct.Geometry.RequireSameGrid(row.Heatmap.Geometry, $"heatmap '{row.Title}'");
        }

        if (slices.Count == 0 || slices.Any(k => k < 0 || k >= ct.Geometry.Size.K))
        {
            throw new InvalidRequestException($"montage slices [{string.Join(", ", slices)}] must be non-empty and within 0..{ct.Geometry.Size.K - 1}");
        }

        var (w, h) = (ct.Geometry.Size.I * scale, ct.Geometry.Size.J * scale);
        var width = Margin + (slices.Count * (w + Margin));
        var height = Margin + (Math.Max(1, rows.Count) * (h + Margin + Margin));
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.Black);
        using var text = new SKPaint { Color = SKColors.White, IsAntialias = true };
        using var font = new SKFont(LabelTypeface ?? SKTypeface.Default, 13);
        var labels = LabelTypeface is not null;
        for (var r = 0; r < rows.Count; r++)
        {
            var top = Margin + (r * (h + Margin + Margin));
            if (labels)
            {
                canvas.DrawText($"{rows[r].Title}", Margin, top + 12, SKTextAlign.Left, font, text);
            }

            var max = MaxOf(rows[r].Heatmap);
            for (var s = 0; s < slices.Count; s++)
            {
                using var bitmap = Compose(ct, outline, rows[r].Heatmap, slices[s], max, windowCenter, windowWidth);
                var left = Margin + (s * (w + Margin));
                using var pixels = SKImage.FromBitmap(bitmap);
                canvas.DrawImage(pixels, new SKRect(left, top + Margin, left + w, top + Margin + h), new SKSamplingOptions(SKFilterMode.Nearest));
                if (labels)
                {
                    canvas.DrawText($"k={slices[s]}", left, top + Margin + h + 12, SKTextAlign.Left, font, text);
                }
            }
        }

        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static SKTypeface? FindTypeface()
    {
        string[] candidates = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf"];
        var path = candidates.FirstOrDefault(File.Exists)
                   ?? (Directory.Exists("/usr/share/fonts") ? Directory.EnumerateFiles("/usr/share/fonts", "*.ttf", SearchOption.AllDirectories).FirstOrDefault() : null);
        return path is null ? null : SKTypeface.FromFile(path);
    }

    private static float MaxOf(Volume heatmap)
    {
        var max = 0f;
        for (var k = 0; k < heatmap.Geometry.Size.K; k++)
        {
            foreach (var v in heatmap.Slice<float>(k))
            {
                max = Math.Max(max, v);
            }
        }

        return max;
    }

    private static SKBitmap Compose(Volume ct, Volume outline, Volume heatmap, int k, float max, double center, double width)
    {
        var size = ct.Geometry.Size;
        var bitmap = new SKBitmap(size.I, size.J, SKColorType.Rgba8888, SKAlphaType.Premul);
        var hu = new double[size.SliceVoxels];
        var mask = new double[size.SliceVoxels];
        ct.CopySlice(k, hu);
        outline.CopySlice(k, mask);
        var heat = heatmap.Slice<float>(k);
        var low = center - (width / 2);
        for (var j = 0; j < size.J; j++)
        {
            for (var i = 0; i < size.I; i++)
            {
                var v = (j * size.I) + i;
                var grey = Math.Clamp((hu[v] - low) / width, 0, 1);
                double r = grey, g = grey, b = grey;
                var t = max > 0 ? Math.Clamp(heat[v] / max, 0, 1) : 0;
                if (t > 0)
                {
                    var (hr, hg, hb) = Jet(t);
                    var alpha = 0.75 * t; // faint where the heatmap is weak, so low values do not tint the whole slice
                    (r, g, b) = ((r * (1 - alpha)) + (hr * alpha), (g * (1 - alpha)) + (hg * alpha), (b * (1 - alpha)) + (hb * alpha));
                }

                if (mask[v] != 0 && IsEdge(mask, size.I, size.J, i, j))
                {
                    (r, g, b) = (1, 1, 1);
                }

                bitmap.SetPixel(i, j, new SKColor((byte)(r * 255), (byte)(g * 255), (byte)(b * 255)));
            }
        }

        return bitmap;
    }

    private static bool IsEdge(double[] mask, int columns, int rows, int i, int j)
    {
        for (var dj = -1; dj <= 1; dj++)
        {
            for (var di = -1; di <= 1; di++)
            {
                int x = i + di, y = j + dj;
                if (x < 0 || y < 0 || x >= columns || y >= rows || mask[(y * columns) + x] == 0)
                {
                    return true;
                }
            }
        }

        return false;
    }

    // Blue → cyan → yellow → red.
    private static (double R, double G, double B) Jet(double t)
        => (Math.Clamp((1.5 - Math.Abs((4 * t) - 3)), 0, 1), Math.Clamp(1.5 - Math.Abs((4 * t) - 2), 0, 1), Math.Clamp(1.5 - Math.Abs((4 * t) - 1), 0, 1));
}
