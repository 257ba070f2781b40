using SegCam.Cam.Methods;
using SegCam.Pipelines.Slicing;
using SegCam.Volumes;

namespace SegCam.Pipelines;

/// <summary>Per-volume or per-plane normalisation of heatmap volumes (max, maxabs or minmax; 0 where the range is empty).</summary>
internal static class HeatmapNormalization
{
    /// <summary>Scales heatmaps per volume or per plane (<paramref name="planes"/> of <paramref name="plane"/>), METHODS.md §3.</summary>
    public static void Apply(IEnumerable<Volume> heatmaps, VolumeCamRequest request, SlicePlane plane, IEnumerable<int> planes)
    {
        if (request.Normalization == CamNormalization.None)
        {
            return;
        }

        foreach (var volume in heatmaps)
        {
            if (request.NormalizationScope == NormalizationScope.Volume)
            {
                var slices = Enumerable.Range(0, volume.Geometry.Size.K).ToArray();
                Scale(slices, request.Normalization, k => volume.Slice<float>(k));
            }
            else
            {
                var buffer = new float[plane.Pixels];
                var scratch = new double[volume.Geometry.Size.SliceVoxels];
                foreach (var s in planes)
                {
                    plane.Extract(volume, s, buffer, scratch);
                    Scale([0], request.Normalization, _ => buffer);
                    plane.Insert(volume, s, buffer);
                }
            }
        }
    }

    // (max / maxabs / minmax) over the given spans, with 0 where the range is empty (never NaN): METHODS.md §3.
    private static void Scale(int[] parts, CamNormalization kind, Func<int, Span<float>> span)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity, maxAbs = 0;
        foreach (var p in parts)
        {
            foreach (var v in span(p))
            {
                min = Math.Min(min, v);
                max = Math.Max(max, v);
                maxAbs = Math.Max(maxAbs, Math.Abs(v));
            }
        }

        var (offset, divisor) = kind switch
        {
            CamNormalization.Max => (0.0, max),
            CamNormalization.MaxAbs => (0.0, maxAbs),
            _ => (min, max - min),
        };
        foreach (var p in parts)
        {
            var s = span(p);
            for (var i = 0; i < s.Length; i++)
            {
                s[i] = divisor > 0 ? (float)((s[i] - offset) / divisor) : 0f;
            }
        }
    }
}
