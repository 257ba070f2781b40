using System.CommandLine;
using SegCam.Volumes.Formats;
using SegCam.Volumes.Geometry;
using SegCam.Volumes.Phantoms;

namespace SegCam.Cli.Commands;

/// <summary><c>segcam phantom</c>: a synthetic abdominal CT with kidney/tumour labels, written in any image format.</summary>
internal static class PhantomCommand
{
    public static Command Create(TextWriter stdout)
    {
        var ct = new Option<FileInfo>("--out-ct") { Description = "CT output (.nii.gz, .nrrd, .mha, .npy …)", Required = true };
        var labels = new Option<FileInfo>("--out-labels") { Description = "Label map output (0 background, 1 kidney, 2 tumour)", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed (same seed, same phantom)", DefaultValueFactory = _ => 1 };
        var size = new Option<string>("--size") { Description = "Voxels i,j,k", DefaultValueFactory = _ => "128,128,48" };
        var spacing = new Option<string>("--spacing") { Description = "Spacing in mm, x,y,z", DefaultValueFactory = _ => "2.5,2.5,3" };
        var tumour = new Option<double>("--tumour-probability") { Description = "Probability of a tumour (0..1)", DefaultValueFactory = _ => 0.85 };
        var command = new Command("phantom", "Generate a synthetic abdominal CT phantom with kidneys, a tumour and ground-truth labels") { ct, labels, seed, size, spacing, tumour };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var s = CommonOptions.ParseInts(parse.GetValue(size)!, "--size", 3);
            var sp = parse.GetValue(spacing)!.Split(',').Select(v => double.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var d) ? d : throw new UsageException($"--spacing: '{v}' is not a number")).ToArray();
            if (sp.Length != 3)
            {
                throw new UsageException("--spacing needs three values x,y,z");
            }

            var options = new PhantomOptions
            {
                Size = new GridSize((int)s[0], (int)s[1], (int)s[2]),
                Spacing = new Vector3(sp[0], sp[1], sp[2]),
                TumourProbability = parse.GetValue(tumour),
            };
            var (image, truth) = AbdominalPhantom.Generate(options, parse.GetValue(seed), cancellationToken);
            VolumeFile.Write(image, parse.GetValue(ct)!.FullName, cancellationToken);
            VolumeFile.Write(truth, parse.GetValue(labels)!.FullName, cancellationToken);
            await stdout.WriteLineAsync($"phantom seed {parse.GetValue(seed)}: {image.Geometry}").ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
