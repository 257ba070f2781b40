using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SegCam.Cam.Execution;
using SegCam.Cam.Methods;
using SegCam.Pipelines;
using SegCam.Reports;
using SegCam.Volumes;
using SegCam.Volumes.Formats;
using SegCam.Volumes.Metrics;
using SegCam.Volumes.Phantoms;

namespace SegCam.Cli.Commands;

/// <summary>
/// <c>segcam demo</c>: the main job on built-in data. A phantom CT is generated, segmented by the demo 2-D U-Net,
/// the tumour is explained with Seg-HiRes-Grad CAM and Seg-Grad CAM, and heatmaps (NIfTI, NRRD), a PNG montage and
/// the quality metrics are written.
/// </summary>
internal static class DemoCommand
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine("out", "demo")) };
        var seed = new Option<int>("--seed") { Description = "Phantom seed", DefaultValueFactory = _ => 2026 };
        var model = new Option<string>("--model") { Description = "2-D model (path or id) with a card naming a 'tumour' class", DefaultValueFactory = _ => "demo-unet2d" };
        var device = CommonOptions.Device();
        var server = CommonOptions.Server();
        var apiKeyFile = CommonOptions.ApiKeyFile();
        var command = new Command("demo", "Run the demo: phantom CT → segmentation → tumour CAMs → heatmaps, montage and metrics") { output, seed, model, device, server, apiKeyFile };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var dir = parse.GetValue(output)!;
            dir.Create();
            string Out(string name) => Path.Combine(dir.FullName, name);
            var (ct, truth) = AbdominalPhantom.Generate(new PhantomOptions { TumourProbability = 1 }, parse.GetValue(seed), cancellationToken);
            VolumeFile.Write(ct, Out("ct.nii.gz"), cancellationToken);
            VolumeFile.Write(truth, Out("labels-truth.nii.gz"), cancellationToken);
            await stdout.WriteLineAsync($"phantom (seed {parse.GetValue(seed)}): {ct.Geometry.Size} voxels, spacing {ct.Geometry.Spacing} mm").ConfigureAwait(false);

            var card = ModelLocator.Load(parse.GetValue(model)!).Card;
            var tumour = card.ClassIndex("tumour");
            DemoExplanation result;
            if (parse.GetValue(server) is { } url)
            {
                using var client = CommonOptions.Connect(url, parse.GetValue(apiKeyFile));
                result = await DemoExplanation.RemoteAsync(client, card.Id, ct, truth, new RemoteProgress(stderr), cancellationToken).ConfigureAwait(false);
                await stdout.WriteLineAsync($"computed on {url}").ConfigureAwait(false);
            }
            else
            {
                using var engine = new CamEngine(CommonOptions.ParseDevice(parse.GetValue(device)!), msg => stderr.WriteLine($"segcam: {msg}"));
                result = DemoExplanation.Local(engine, parse.GetValue(model)!, tumour, ct, truth, ProgressPrinter.To(stderr), cancellationToken);
            }

            var pixelSet = result.PixelSet;
            VolumeFile.Write(result.Segmentation, Out("segmentation.nii.gz"), cancellationToken);
            var tumourMask = VolumeMasks.Equal(truth, AbdominalPhantom.Tumour);
            var rows = new List<Dictionary<string, object?>>();
            foreach (var (method, heatmap) in result.Heatmaps)
            {
                VolumeFile.Write(heatmap, Out($"{method.Id()}.nii.gz"), cancellationToken);
                VolumeFile.Write(heatmap, Out($"{method.Id()}.nrrd"), cancellationToken);
                rows.Add(new Dictionary<string, object?>
                {
                    ["method"] = method.Id(),
                    ["energy_inside_tumour"] = HeatmapMetrics.EnergyFraction(heatmap, tumourMask).Value,
                    ["mean_dice"] = HeatmapMetrics.MeanDice(heatmap, tumourMask).Value,
                    ["auprc"] = HeatmapMetrics.AveragePrecision(heatmap, tumourMask).Value,
                });
            }

            var slices = TopSlices(tumourMask.Geometry.Size.K, k => Count(tumourMask, k), 4);
            var png = MontageRenderer.RenderPng(ct, tumourMask, [.. result.Heatmaps.Select(h => new MontageRow(h.Key.Id(), h.Value))], slices,
                card.Preprocessing.Center, card.Preprocessing.Width);
            await File.WriteAllBytesAsync(Out("montage.png"), png, cancellationToken).ConfigureAwait(false);
            var dice = new Dictionary<string, double?>
            {
                ["kidney"] = SegmentationDice(result.Segmentation, truth, AbdominalPhantom.Kidney),
                ["tumour"] = SegmentationDice(result.Segmentation, truth, AbdominalPhantom.Tumour),
            };
            await File.WriteAllTextAsync(Out("metrics.json"), JsonSerializer.Serialize(new { pixel_set = pixelSet, layer = result.Layer, segmentation_dice = dice, heatmaps = rows }, Indented), cancellationToken).ConfigureAwait(false);

            await stdout.WriteLineAsync($"segmentation Dice vs ground truth: kidney {F(dice["kidney"])}, tumour {F(dice["tumour"])}").ConfigureAwait(false);
            await stdout.WriteLineAsync($"explained: class '{card.Classes[tumour]}' over {pixelSet}, layer {result.Layer}; {result.Computed} {(card.Dimensionality == 3 ? "patches" : "slices")} computed, {result.Skipped} skipped").ConfigureAwait(false);
            await stdout.WriteLineAsync($"{"heatmap vs ground-truth tumour",-32} {"energy inside",14} {"mean Dice",10} {"AUPRC",8}").ConfigureAwait(false);
            foreach (var row in rows)
            {
                await stdout.WriteLineAsync($"{row["method"],-32} {F(row["energy_inside_tumour"]),14} {F(row["mean_dice"]),10} {F(row["auprc"]),8}").ConfigureAwait(false);
            }

            await stdout.WriteLineAsync($"wrote {dir.FullName}: ct, labels-truth, segmentation, heatmaps (.nii.gz, .nrrd), montage.png, metrics.json").ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static string F(object? v) => v is double d ? d.ToString("F3", CultureInfo.InvariantCulture) : "n/a";

    private static int Count(Volume mask, int k)
    {
        var n = 0;
        foreach (var b in mask.Slice<byte>(k))
        {
            n += b;
        }

        return n;
    }

    private static int[] TopSlices(int slices, Func<int, int> score, int count)
    {
        var ranked = Enumerable.Range(0, slices).OrderByDescending(score).ThenBy(k => k).Take(count).Order().ToArray();
        return ranked.Length > 0 ? ranked : [slices / 2];
    }

    private static double? SegmentationDice(Volume predicted, Volume truth, byte label)
    {
        long a = 0, b = 0, both = 0;
        for (var k = 0; k < truth.Geometry.Size.K; k++)
        {
            var p = predicted.Slice<byte>(k);
            var t = truth.Slice<byte>(k);
            for (var v = 0; v < p.Length; v++)
            {
                var x = p[v] == label;
                var y = t[v] == label;
                a += x ? 1 : 0;
                b += y ? 1 : 0;
                both += x && y ? 1 : 0;
            }
        }

        return a + b == 0 ? null : 2.0 * both / (a + b);
    }
}
