using System.CommandLine;
using SegCam.Cam;
using SegCam.Cam.Execution;
using SegCam.Cam.Methods;
using SegCam.Cam.PixelSets;
using SegCam.Common.Tensors;
using SegCam.Pipelines;

namespace SegCam.Cli.Commands;

/// <summary><c>segcam cam</c>: CAMs of a NumPy input for a class and a pixel set.</summary>
internal static class CamCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = CommonOptions.Model();
        var input = new Option<FileInfo>("--input") { Description = "Model input tensor as .npy (float32/float64, N×C×spatial, no preprocessing applied), or an image volume (.nii/.nii.gz, .nrrd, .mha/.mhd, DICOM folder) explained slice by slice with the model card", Required = true };
        var cls = new Option<string>("--class") { Description = "Class c to explain: an index, or (volumes) a class name from the model card", Required = true };
        var layer = new Option<string?>("--layer") { Description = "Target layer: exact ONNX tensor name, or a role (bottleneck, 'encoder level 1', …); default: the bottleneck-side deepest layer" };
        var method = new Option<string>("--method") { Description = $"Comma list of: {string.Join(", ", CamMethodNames.All)}", DefaultValueFactory = _ => "seg-hires-grad-cam" };
        var output = new Option<FileInfo>("--out") { Description = "Output .npy; with several methods the method id goes before the extension (OUT.seg-hires-grad-cam.npy)", Required = true };
        var mask = new Option<FileInfo?>("--mask") { Description = "Pixel set as .npy mask (bool or numbers, nonzero = in), shaped like the output grid or with a leading batch axis" };
        var pixelSet = new Option<string?>("--pixel-set") { Description = "predicted (argmax = class; combines with --mask/--bbox as an intersection) or all" }.AcceptOnlyFromAmong("predicted", "all");
        var bbox = new Option<string?>("--bbox") { Description = "Box MIN:MAX in voxel indices per spatial axis, min inclusive, max exclusive (e.g. 10,12:30,40)" };
        var pixel = new Option<string?>("--pixel") { Description = "One voxel, comma-separated indices per spatial axis (e.g. 20,31)" };
        var target = new Option<string>("--target") { Description = "logits (default) or probabilities (softmax over classes; sigmoid for one channel)", DefaultValueFactory = _ => "logits" }.AcceptOnlyFromAmong("logits", "probabilities");
        var noRelu = new Option<bool>("--no-relu") { Description = "Return the signed map (no final ReLU)" };
        var resolution = new Option<string>("--resolution") { Description = "activation (the layer's grid) or input (bilinear/trilinear to the input grid)", DefaultValueFactory = _ => "activation" }.AcceptOnlyFromAmong("activation", "input");
        var normalize = new Option<string>("--normalize") { Description = "none, max, maxabs or minmax (per batch item)", DefaultValueFactory = _ => "none" }.AcceptOnlyFromAmong("none", "max", "maxabs", "minmax");
        var exportGradient = new Option<FileInfo?>("--export-gradient") { Description = "Write G = dS/dA (N×K×spatial′) to this .npy" };
        var exportActivation = new Option<FileInfo?>("--export-activation") { Description = "Write the activation A to this .npy" };
        var xresWindow = new Option<int>("--xres-window") { Description = "Seg-XRes-CAM pooling window per axis (1 = Seg-HiRes-Grad CAM)", DefaultValueFactory = _ => 2 };
        var xresPool = new Option<string>("--xres-pool") { Description = "Seg-XRes-CAM pooling: mean or max", DefaultValueFactory = _ => "mean" }.AcceptOnlyFromAmong("mean", "max");
        var precision = new Option<string>("--precision")
        {
            Description = "float64 (default for tensors: forward and backward in double, as PyTorch autograd in float64; exact at ReLU kinks) or float32 (the model's precision, several times faster; default for volumes)",
            DefaultValueFactory = _ => "float64",
        }.AcceptOnlyFromAmong("float64", "float32");
        var labels = new Option<FileInfo?>("--labels") { Description = "Volumes: label map on the image grid; with --label N the pixel set is its voxels equal to N" };
        var label = new Option<int?>("--label") { Description = "Volumes: label value of --labels" };
        var scope = new Option<string>("--normalize-scope") { Description = "Volumes: normalise per slice or over the volume", DefaultValueFactory = _ => "volume" }.AcceptOnlyFromAmong("volume", "slice");
        var batch = new Option<int>("--batch") { Description = "Volumes: slices (2-D models) or patches (3-D) per run", DefaultValueFactory = _ => 8 };
        var sliceAxis = new Option<string?>("--slice-axis") { Description = "Volumes, 2-D models: axial, coronal or sagittal (default: the model card's)" }.AcceptOnlyFromAmong("axial", "coronal", "sagittal");
        var device = CommonOptions.Device();
        var server = CommonOptions.Server();
        var apiKeyFile = CommonOptions.ApiKeyFile();

        var command = new Command("cam", "Compute class activation maps for one input, class and pixel set")
        {
            model, input, cls, layer, method, output, mask, pixelSet, bbox, pixel, target, noRelu, resolution, normalize,
            exportGradient, exportActivation, xresWindow, xresPool, precision, labels, label, scope, batch, sliceAxis, device, server, apiKeyFile,
        };

        command.SetAction(async (parse, ct) =>
        {
            var methods = CamMethodNames.ParseList(parse.GetValue(method)!);
            var options = new CamOptions
            {
                Methods = methods,
                Target = parse.GetValue(target) == "probabilities" ? CamTarget.Probabilities : CamTarget.Logits,
                Relu = !parse.GetValue(noRelu),
                Resolution = parse.GetValue(resolution) == "input" ? CamResolution.Input : CamResolution.Activation,
                Normalization = parse.GetValue(normalize) switch
                {
                    "max" => CamNormalization.Max,
                    "maxabs" => CamNormalization.MaxAbs,
                    "minmax" => CamNormalization.MinMax,
                    _ => CamNormalization.None,
                },
                XResWindow = parse.GetValue(xresWindow),
                XResPool = parse.GetValue(xresPool) == "max" ? XResPool.Max : XResPool.Mean,
                ExportTensors = parse.GetValue(exportGradient) is not null || parse.GetValue(exportActivation) is not null,
                Precision = parse.GetValue(precision) == "float32" ? CamPrecision.Float32 : CamPrecision.Float64,
            };
            options.Validate();

            var inputPath = parse.GetValue(input)!.FullName;
            if (Directory.Exists(inputPath) || !inputPath.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            {
                var modelArg = parse.GetValue(model)!;
                var arguments = new VolumeCamArguments(
                    File.Exists(modelArg.FullName) ? modelArg.FullName : modelArg.Name, inputPath, parse.GetValue(cls)!, parse.GetValue(output)!.FullName,
                    methods, parse.GetValue(layer), parse.GetValue(labels)?.FullName, parse.GetValue(label), parse.GetValue(pixelSet), parse.GetValue(bbox), parse.GetValue(pixel),
                    options.Target, options.Relu, options.Normalization, parse.GetValue(scope) == "slice" ? NormalizationScope.Slice : NormalizationScope.Volume,
                    options.XResWindow, options.XResPool, parse.GetResult(precision) is { Implicit: false } ? options.Precision : CamPrecision.Float32, parse.GetValue(batch), CommonOptions.ParseDevice(parse.GetValue(device)!), parse.GetValue(sliceAxis));
                if (parse.GetValue(server) is { } url)
                {
                    using var client = CommonOptions.Connect(url, parse.GetValue(apiKeyFile));
                    return await RemoteCamRunner.RunAsync(arguments with { Model = modelArg.Name }, client, stdout, stderr, ct).ConfigureAwait(false);
                }

                return await VolumeCamRunner.RunAsync(arguments, stdout, stderr, ct).ConfigureAwait(false);
            }

            if (parse.GetValue(server) is not null)
            {
                throw new UsageException("--server takes image volumes (NIfTI, NRRD, MetaImage, DICOM); .npy tensors run in-process");
            }

            if (!int.TryParse(parse.GetValue(cls), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var classIndex))
            {
                throw new UsageException($"--class '{parse.GetValue(cls)}': a tensor input needs a class index (names come from a model card, for volumes)");
            }

            var m = SegmentationModel.Load(parse.GetValue(model)!.FullName);
            var x = NpyFile.Read(parse.GetValue(input)!.FullName);
            if (x.DType is not (NpyDType.Float32 or NpyDType.Float64))
            {
                throw new Common.Errors.InvalidRequestException($"--input: dtype {x.DType.NumPyName()} is not allowed; the model input must be float32 or float64");
            }

            var spatialRank = x.Rank - 2;
            var set = BuildPixelSet(parse.GetValue(mask), parse.GetValue(pixelSet), parse.GetValue(bbox), parse.GetValue(pixel), spatialRank);
            var request = new CamRequest
            {
                Input = x.ToFloat32(),
                InputShape = x.Shape.Select(d => (long)d).ToArray(),
                Class = classIndex,
                PixelSet = set,
                Layer = parse.GetValue(layer),
                Options = options,
            };

            using var engine = new CamEngine(CommonOptions.ParseDevice(parse.GetValue(device)!), msg => stderr.WriteLine($"segcam: {msg}"));
            var result = engine.Compute(m, request, ct);

            var outPath = parse.GetValue(output)!.FullName;
            var written = new List<string>();
            foreach (var method1 in methods)
            {
                var path = methods.Count == 1 ? outPath : WithMethod(outPath, method1.Id());
                NpyFile.Write(path, NdArray.FromFloat32(result.Maps[method1], ToInts(result.MapShape)));
                written.Add(path);
            }

            if (parse.GetValue(exportGradient) is { } g)
            {
                if (result.Gradient is null)
                {
                    throw new Common.Errors.InvalidRequestException("--export-gradient: no gradient was computed");
                }

                NpyFile.Write(g.FullName, NdArray.FromFloat32(result.Gradient, ToInts(result.ActivationShape)));
                written.Add(g.FullName);
            }

            if (parse.GetValue(exportActivation) is { } a)
            {
                NpyFile.Write(a.FullName, NdArray.FromFloat32(result.Activation!, ToInts(result.ActivationShape)));
                written.Add(a.FullName);
            }

            for (var n = 0; n < result.Flags.Length; n++)
            {
                if (result.Flags[n].HasFlag(CamFlags.EmptyPixelSet))
                {
                    await stderr.WriteLineAsync($"segcam: EMPTY_PIXEL_SET: item {n} has an empty pixel set; its gradient maps are all zero").ConfigureAwait(false);
                }
                else if (result.Flags[n].HasFlag(CamFlags.ZeroMap))
                {
                    await stderr.WriteLineAsync($"segcam: ZERO_MAP: item {n} has an all-zero map (try --no-relu or another layer)").ConfigureAwait(false);
                }
            }

            await stdout.WriteLineAsync($"model {m.Name} | layer {result.Layer} | provider {engine.Sessions.ProviderName} | pixels [{string.Join(", ", result.PixelCounts)}] | {result.RunTime.TotalMilliseconds:F1} ms").ConfigureAwait(false);
            foreach (var path in written)
            {
                await stdout.WriteLineAsync($"wrote {path}").ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }

    private static int[] ToInts(long[] shape) => shape.Select(d => checked((int)d)).ToArray();

    private static string WithMethod(string path, string id)
    {
        var dir = Path.GetDirectoryName(path) ?? ".";
        var ext = Path.GetExtension(path);
        return Path.Combine(dir, Path.GetFileNameWithoutExtension(path) + "." + id + (ext.Length > 0 ? ext : ".npy"));
    }

    private static PixelSet BuildPixelSet(FileInfo? mask, string? mode, string? bbox, string? pixel, int spatialRank)
    {
        var given = new[] { mask is not null, bbox is not null, pixel is not null, mode == "all" }.Count(b => b);
        if (given > 1)
        {
            throw new UsageException("give at most one of --mask, --bbox, --pixel, --pixel-set all (--pixel-set predicted combines with --mask or --bbox)");
        }

        PixelSet set;
        if (mask is not null)
        {
            var array = NpyFile.Read(mask.FullName);
            set = PixelSet.FromMask(array.ToBoolean(), array.Shape);
        }
        else if (bbox is not null)
        {
            var parts = bbox.Split(':');
            if (parts.Length != 2)
            {
                throw new UsageException($"--bbox: '{bbox}' must be MIN:MAX, e.g. 10,12:30,40");
            }

            set = PixelSet.Box(CommonOptions.ParseInts(parts[0], "--bbox", spatialRank), CommonOptions.ParseInts(parts[1], "--bbox", spatialRank));
        }
        else if (pixel is not null)
        {
            set = PixelSet.Voxel(CommonOptions.ParseInts(pixel, "--pixel", spatialRank));
        }
        else if (mode is "all" or "predicted")
        {
            set = PixelSet.All();
        }
        else
        {
            throw new UsageException("a pixel set is required: --mask MASK.npy, --bbox MIN:MAX, --pixel I,J[,K], or --pixel-set predicted|all");
        }

        return mode == "predicted" ? set with { WithinPredicted = true } : set;
    }
}
