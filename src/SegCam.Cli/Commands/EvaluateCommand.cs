using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SegCam.Volumes;
using SegCam.Volumes.Formats;
using SegCam.Volumes.Metrics;

namespace SegCam.Cli.Commands;

/// <summary><c>segcam evaluate</c>: heatmap quality against a mask (energy inside, mean Dice over 256 thresholds, AUPRC).</summary>
internal static class EvaluateCommand
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Create(TextWriter stdout)
    {
        var heatmaps = new Option<FileInfo[]>("--heatmap") { Description = "Heatmap volume(s) to score (repeatable)", Required = true, AllowMultipleArgumentsPerToken = true };
        var mask = new Option<FileInfo>("--mask") { Description = "Label map or binary mask on the heatmap's grid", Required = true };
        var label = new Option<int?>("--label") { Description = "Label value that forms the mask (default: every nonzero voxel)" };
        var json = new Option<bool>("--json") { Description = "Write JSON instead of a table" };
        var command = new Command("evaluate", "Score heatmaps against a mask: positive energy inside, mean Dice over 256 thresholds, pixel-wise AUPRC") { heatmaps, mask, label, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var truth = VolumeFile.Read(parse.GetValue(mask)!.FullName, cancellationToken: cancellationToken);
            if (parse.GetValue(label) is { } value)
            {
                truth = Select(truth, value);
            }

            var rows = new List<Dictionary<string, object?>>();
            foreach (var file in parse.GetValue(heatmaps)!)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var heatmap = VolumeFile.Read(file.FullName, cancellationToken: cancellationToken);
                rows.Add(new Dictionary<string, object?>
                {
                    ["heatmap"] = file.Name,
                    ["energy_inside"] = HeatmapMetrics.EnergyFraction(heatmap, truth).Value,
                    ["mean_dice"] = HeatmapMetrics.MeanDice(heatmap, truth).Value,
                    ["auprc"] = HeatmapMetrics.AveragePrecision(heatmap, truth).Value,
                });
            }

            if (parse.GetValue(json))
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(rows, Indented)).ConfigureAwait(false);
                return 0;
            }

            await stdout.WriteLineAsync($"{"heatmap",-40} {"energy inside",14} {"mean Dice",10} {"AUPRC",8}").ConfigureAwait(false);
            foreach (var row in rows)
            {
                static string F(object? v) => v is double d ? d.ToString("F4", CultureInfo.InvariantCulture) : "n/a";
                await stdout.WriteLineAsync($"{row["heatmap"],-40} {F(row["energy_inside"]),14} {F(row["mean_dice"]),10} {F(row["auprc"]),8}").ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }

    // A UInt8 mask of the voxels equal to value.
    private static Volume Select(Volume labels, int value)
    {
        var mask = new Volume(labels.Geometry, VoxelType.UInt8);
        var count = (int)labels.Geometry.Size.SliceVoxels;
        var row = new double[count];
        for (var k = 0; k < labels.Geometry.Size.K; k++)
        {
            labels.CopySlice(k, row);
            var target = mask.Slice<byte>(k);
            for (var v = 0; v < count; v++)
            {
                target[v] = row[v] == value ? (byte)1 : (byte)0;
            }
        }

        return mask;
    }
}
