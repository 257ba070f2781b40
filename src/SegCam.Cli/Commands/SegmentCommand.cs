using System.CommandLine;
using SegCam.Cam.Execution;
using SegCam.Pipelines;
using SegCam.Volumes.Formats;

namespace SegCam.Cli.Commands;

/// <summary><c>segcam segment</c>: the model's label map of a volume, written with the input's geometry.</summary>
internal static class SegmentCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string>("--model") { Description = "ONNX model (its .segcam.json card beside it) or a model id", Required = true };
        var input = new Option<FileInfo>("--input") { Description = "Image volume (.nii/.nii.gz, .nrrd, .mha/.mhd, DICOM folder, .npy)", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "Label map output; the format follows the extension", Required = true };
        var batch = new Option<int>("--batch") { Description = "Slices per run", DefaultValueFactory = _ => 8 };
        var device = CommonOptions.Device();
        var command = new Command("segment", "Segment a volume with a 2-D model slice by slice; writes the label map with the input's geometry") { model, input, output, batch, device };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (m, card) = ModelLocator.Load(parse.GetValue(model)!);
            var image = VolumeFile.Read(parse.GetValue(input)!.FullName, cancellationToken: cancellationToken);
            using var engine = new CamEngine(CommonOptions.ParseDevice(parse.GetValue(device)!), msg => stderr.WriteLine($"segcam: {msg}"));
            var labels = VolumePipelines.For(engine, m, card).Segment(image, parse.GetValue(batch), ProgressPrinter.To(stderr), cancellationToken);
            VolumeFile.Write(labels, parse.GetValue(output)!.FullName, cancellationToken);
            await stdout.WriteLineAsync($"wrote {parse.GetValue(output)!.FullName}: {labels.Geometry.Size} labels {string.Join(", ", card.Classes.Select((c, i) => $"{i} {c}"))}").ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
