using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SegCam.Volumes;
using SegCam.Volumes.Formats;
using SegCam.Volumes.Metrics;
using SegCam.Cam.Execution;
using SegCam.Pipelines;

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
        var model = new Option<string?>("--model") { Description = "With --image and --class: also deletion/insertion curves of the score S = Σ over the mask of the class logit" };
        var image = new Option<FileInfo?>("--image") { Description = "The image the heatmaps explain (for deletion/insertion)" };
        var cls = new Option<string?>("--class") { Description = "Class (index or card name) whose score the curves follow" };
        var steps = new Option<int>("--curve-steps") { Description = "Points of the deletion/insertion curves", DefaultValueFactory = _ => 20 };
        var baseline = new Option<double>("--baseline") { Description = "Value a removed voxel takes (image units, e.g. HU; default −1000, air)", DefaultValueFactory = _ => -1000 };
        var command = new Command("evaluate", "Score heatmaps against a mask: positive energy inside, mean Dice over 256 thresholds, pixel-wise AUPRC; with a model also deletion/insertion curves") { heatmaps, mask, label, json, model, image, cls, steps, baseline };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var truth = VolumeFile.Read(parse.GetValue(mask)!.FullName, cancellationToken: cancellationToken);
            if (parse.GetValue(label) is { } value)
            {
                truth = VolumeMasks.Equal(truth, value);
            }

            var curves = parse.GetValue(model) is { } modelId
                ? new CurveScorer(modelId, parse.GetValue(image)?.FullName ?? throw new UsageException("--model needs --image (the image the heatmaps explain)"),
                    parse.GetValue(cls) ?? throw new UsageException("--model needs --class"), truth, parse.GetValue(baseline), cancellationToken)
                : null;
            using var scorer = curves;
            var rows = new List<Dictionary<string, object?>>();
            foreach (var file in parse.GetValue(heatmaps)!)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var heatmap = VolumeFile.Read(file.FullName, cancellationToken: cancellationToken);
                var row = new Dictionary<string, object?>
                {
                    ["heatmap"] = file.Name,
                    ["energy_inside"] = HeatmapMetrics.EnergyFraction(heatmap, truth).Value,
                    ["mean_dice"] = HeatmapMetrics.MeanDice(heatmap, truth).Value,
                    ["auprc"] = HeatmapMetrics.AveragePrecision(heatmap, truth).Value,
                };
                if (scorer is not null)
                {
                    var options = new PerturbationCurveOptions { Steps = parse.GetValue(steps) };
                    row["deletion_auc"] = DeletionInsertion.Deletion(heatmap, scorer.Score, options, cancellationToken).Area;
                    row["insertion_auc"] = DeletionInsertion.Insertion(heatmap, scorer.Score, options, cancellationToken).Area;
                }

                rows.Add(row);
            }

            if (parse.GetValue(json))
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(rows, Indented)).ConfigureAwait(false);
                return 0;
            }

            await stdout.WriteLineAsync($"{"heatmap",-40} {"energy inside",14} {"mean Dice",10} {"AUPRC",8}{(curves is null ? string.Empty : $" {"deletion AUC",13} {"insertion AUC",14}")}").ConfigureAwait(false);
            foreach (var row in rows)
            {
                static string F(object? v) => v is double d ? d.ToString("F4", CultureInfo.InvariantCulture) : "n/a";
                var curveColumns = curves is null ? string.Empty : $" {F(row["deletion_auc"]),13} {F(row["insertion_auc"]),14}";
                await stdout.WriteLineAsync($"{row["heatmap"],-40} {F(row["energy_inside"]),14} {F(row["mean_dice"]),10} {F(row["auprc"]),8}{curveColumns}").ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }
}
