using System.CommandLine;
using System.Text.Json;
using SegCam.Cam;
using SegCam.Cam.Layers;

namespace SegCam.Cli.Commands;

/// <summary><c>segcam layers</c>: the candidate target layers with shape and role.</summary>
internal static class LayersCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = CommonOptions.Model();
        var shape = CommonOptions.InputShape();
        var json = new Option<bool>("--json") { Description = "Write JSON instead of a table" };
        var server = CommonOptions.Server();
        var apiKeyFile = CommonOptions.ApiKeyFile();
        var command = new Command("layers", "List candidate target layers: ONNX tensor name, shape and role") { model, shape, json, server, apiKeyFile };
        command.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(server) is { } url)
            {
                using var client = CommonOptions.Connect(url, parse.GetValue(apiKeyFile));
                var id = parse.GetValue(model)!.Name;
                var models = await client.ListModelsAsync(ct).ConfigureAwait(false);
                var info = models.FirstOrDefault(x => x.Id == id)
                           ?? throw new Common.Errors.TargetNotFoundException($"model '{id}' is not on the server; it has: {string.Join(", ", models.Select(x => x.Id))}");
                await stdout.WriteLineAsync($"# {info.Id} on {url}: {info.Dimensionality}-D, classes {string.Join(", ", info.Classes)}; shapes probed for one item").ConfigureAwait(false);
                foreach (var l in info.Layers)
                {
                    await stdout.WriteLineAsync($"{l.Name}  {l.OpType,-22}  [{string.Join(", ", l.Shape)}]  {l.Role}{(l.Name == info.DefaultLayer ? "  (default)" : string.Empty)}").ConfigureAwait(false);
                }

                return 0;
            }

            var m = SegmentationModel.Load(parse.GetValue(model)!.FullName);
            var inputShape = parse.GetValue(shape) is { } s ? CommonOptions.ParseInts(s, "--input-shape") : m.DefaultInputShape();
            var layers = LayerCatalog.List(m, inputShape);
            if (parse.GetValue(json))
            {
                var rows = layers.Select(l => new { name = l.Name, op = l.OpType, shape = l.Shape, role = l.Role, @default = l.IsDefault });
                await stdout.WriteLineAsync(JsonSerializer.Serialize(new { model = m.Name, input_shape = inputShape, layers = rows })).ConfigureAwait(false);
                return 0;
            }

            await stdout.WriteLineAsync($"# {m.Name}: input '{m.Input}' probed at [{string.Join(", ", inputShape)}], opset {m.Opset}").ConfigureAwait(false);
            var width = layers.Count == 0 ? 4 : Math.Max(4, layers.Max(l => l.Name.Length));
            await stdout.WriteLineAsync($"{"name".PadRight(width)}  {"op",-22}  {"shape",-22}  role").ConfigureAwait(false);
            foreach (var l in layers)
            {
                var shapeText = "[" + string.Join(", ", l.Shape) + "]";
                await stdout.WriteLineAsync($"{l.Name.PadRight(width)}  {l.OpType,-22}  {shapeText,-22}  {l.Role}{(l.IsDefault ? " (default)" : string.Empty)}").ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }
}
