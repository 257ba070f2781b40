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
        var server = CommonOptions.Server();
        var apiKeyFile = CommonOptions.ApiKeyFile();
        var command = new Command("segment", "Segment a volume (2-D models slice by slice, 3-D by sliding windows); writes the label map with the input's geometry") { model, input, output, batch, device, server, apiKeyFile };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(server) is { } url)
            {
                using var client = CommonOptions.Connect(url, parse.GetValue(apiKeyFile));
                var volume = VolumeFile.Read(parse.GetValue(input)!.FullName, cancellationToken: cancellationToken);
                var upload = await client.UploadAsync(volume, parse.GetValue(input)!.Name, cancellationToken).ConfigureAwait(false);
                var request = new Protocol.V1.SegmentRequest { Volume = new Protocol.V1.VolumeSource { VolumeId = upload.VolumeId }, Model = parse.GetValue(model)!, BatchSize = parse.GetValue(batch) };
                var (remote, summary) = await client.SegmentAsync(request, new RemoteProgress(stderr), cancellationToken).ConfigureAwait(false);
                VolumeFile.Write(remote, parse.GetValue(output)!.FullName, cancellationToken);
                await stdout.WriteLineAsync($"wrote {parse.GetValue(output)!.FullName}: {remote.Geometry.Size} labels; voxels per class {string.Join(", ", summary.ClassVoxels)}; server compute {summary.Timings.ComputeSeconds:F2} s").ConfigureAwait(false);
                return 0;
            }

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
