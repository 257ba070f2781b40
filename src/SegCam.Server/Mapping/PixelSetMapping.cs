using SegCam.Common.Errors;
using SegCam.Pipelines;
using SegCam.Server.Storage;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Server.Mapping;

/// <summary>Wire pixel sets to <see cref="VolumePixelSet"/>; the pipeline checks them against the image grid.</summary>
internal static class PixelSetMapping
{
    /// <summary>Converts <paramref name="set"/>; errors name <paramref name="field"/> and the encodings allowed.</summary>
    public static VolumePixelSet ToPixelSet(Proto.PixelSet? set, VolumeStore store, string field)
    {
        switch (set?.KindCase ?? Proto.PixelSet.KindOneofCase.None)
        {
            case Proto.PixelSet.KindOneofCase.Runs:
                var runs = set!.Runs;
                if (runs.Starts.Count != runs.Lengths.Count || runs.Starts.Count == 0)
                {
                    throw new InvalidRequestException($"{field}.runs has {runs.Starts.Count} starts and {runs.Lengths.Count} lengths; they must pair up, at least one run");
                }

                return VolumePixelSet.Runs(runs.Starts.Zip(runs.Lengths).Select(r => (r.First, r.Second)).ToArray());
            case Proto.PixelSet.KindOneofCase.Voxels:
                var ijk = set!.Voxels.Ijk;
                if (ijk.Count == 0 || ijk.Count % 3 != 0)
                {
                    throw new InvalidRequestException($"{field}.voxels.ijk has {ijk.Count} values; it must hold i, j, k triples (a positive multiple of 3)");
                }

                return VolumePixelSet.Points(Enumerable.Range(0, ijk.Count / 3).Select(p => (ijk[3 * p], ijk[(3 * p) + 1], ijk[(3 * p) + 2])).ToArray());
            case Proto.PixelSet.KindOneofCase.Box:
                var box = set!.Box;
                if (box.Min.Count != 3 || box.Max.Count != 3)
                {
                    throw new InvalidRequestException($"{field}.box needs min and max with 3 values each (i, j, k; min inclusive, max exclusive)");
                }

                return VolumePixelSet.Box((box.Min[0], box.Min[1], box.Min[2]), (box.Max[0], box.Max[1], box.Max[2]));
            case Proto.PixelSet.KindOneofCase.Label:
                var labels = store.Get(set!.Label.LabelVolumeId, $"{field}.label.label_volume_id");
                return VolumePixelSet.Label(labels.Volume, set.Label.Label);
            case Proto.PixelSet.KindOneofCase.Predicted:
                return VolumePixelSet.Predicted();
            case Proto.PixelSet.KindOneofCase.All:
                return VolumePixelSet.All();
            default:
                throw new InvalidRequestException($"{field} is missing; allowed: runs, voxels, box, label, predicted, all");
        }
    }

    /// <summary>The encodings <see cref="ToPixelSet"/> accepts (GetServerInfo).</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["runs", "voxels", "box", "label", "predicted", "all"];
}
