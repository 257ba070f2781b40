using Google.Protobuf;
using SegCam.Volumes;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Server.Mapping;

/// <summary>
/// Cuts a volume into <see cref="Proto.VoxelSlab"/> messages of at most a chunk size, whole k-slices where a slice fits
/// (so a viewer can show each slice as soon as it arrives), in voxel order. Holds one chunk at a time.
/// </summary>
internal static class SlabStreaming
{
    /// <summary>Slabs of k-slices <paramref name="slices"/> of <paramref name="volume"/> as stored (label maps: uint8; heatmaps: float32).</summary>
    public static IEnumerable<Proto.VoxelSlab> Raw(Volume volume, int heatmap, int chunkBytes, Range slices)
        => Cut(volume, heatmap, chunkBytes, slices, volume.Type.Size(), (k, from, count, destination) => volume.SliceData(k).Slice(from * volume.Type.Size(), count * volume.Type.Size()).CopyTo(destination));

    /// <summary>Slabs of k-slices <paramref name="slices"/> of a float32 heatmap quantised to uint8: q = round((v − offset) / scale).</summary>
    public static IEnumerable<Proto.VoxelSlab> Quantised(Volume heatmap, int index, int chunkBytes, Range slices, double scale, double offset)
        => Cut(heatmap, index, chunkBytes, slices, 1, (k, from, count, destination) =>
        {
            var values = heatmap.Slice<float>(k).Slice(from, count);
            for (var v = 0; v < count; v++)
            {
                var q = scale > 0 ? Math.Round((values[v] - offset) / scale) : 0;
                destination[v] = (byte)Math.Clamp(q, 0, 255);
            }
        });

    /// <summary>
    /// One pass over a float32 heatmap: its smallest and largest value (0, 0 when empty), and the k-slices from the
    /// first to the last one holding a non-zero voxel (an empty range when all are zero).
    /// </summary>
    public static (double Min, double Max, Range NonZeroSlices) Scan(Volume heatmap)
    {
        var min = double.PositiveInfinity;
        var max = double.NegativeInfinity;
        int first = -1, last = -1;
        for (var k = 0; k < heatmap.Geometry.Size.K; k++)
        {
            var nonZero = false;
            foreach (var v in heatmap.Slice<float>(k))
            {
                min = Math.Min(min, v);
                max = Math.Max(max, v);
                nonZero |= v != 0;
            }

            if (nonZero)
            {
                first = first < 0 ? k : first;
                last = k;
            }
        }

        return (double.IsFinite(min) ? min : 0, double.IsFinite(max) ? max : 0, first < 0 ? new Range(0, 0) : new Range(first, last + 1));
    }

    private delegate void Encode(int k, int from, int count, Span<byte> destination);

    private static IEnumerable<Proto.VoxelSlab> Cut(Volume volume, int heatmap, int chunkBytes, Range range, int bytesPerVoxel, Encode encode)
    {
        var size = volume.Geometry.Size;
        var (start, length) = range.GetOffsetAndLength(size.K);
        var end = start + length;
        var sliceVoxels = (int)size.SliceVoxels;
        var chunkVoxels = Math.Max(1, chunkBytes / bytesPerVoxel);
        if (sliceVoxels <= chunkVoxels)
        {
            var slices = chunkVoxels / sliceVoxels;
            for (var k = start; k < end; k += slices)
            {
                var n = Math.Min(slices, end - k);
                var data = new byte[n * sliceVoxels * bytesPerVoxel];
                for (var s = 0; s < n; s++)
                {
                    encode(k + s, 0, sliceVoxels, data.AsSpan(s * sliceVoxels * bytesPerVoxel, sliceVoxels * bytesPerVoxel));
                }

                yield return new Proto.VoxelSlab { Heatmap = heatmap, VoxelOffset = (long)k * sliceVoxels, SlicesComplete = k + n, Data = UnsafeByteOperations.UnsafeWrap(data) };
            }

            yield break;
        }

        // A slice larger than a chunk: several chunks per slice.
        for (var k = start; k < end; k++)
        {
            for (var from = 0; from < sliceVoxels; from += chunkVoxels)
            {
                var n = Math.Min(chunkVoxels, sliceVoxels - from);
                var data = new byte[n * bytesPerVoxel];
                encode(k, from, n, data);
                var complete = from + n == sliceVoxels ? k + 1 : k;
                yield return new Proto.VoxelSlab { Heatmap = heatmap, VoxelOffset = ((long)k * sliceVoxels) + from, SlicesComplete = complete, Data = UnsafeByteOperations.UnsafeWrap(data) };
            }
        }
    }
}
