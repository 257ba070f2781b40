using System.CommandLine;

namespace SegCam.Cli.Commands;

/// <summary><c>segcam info --server URL</c>: a server's version, device, limits, and its models with their layers.</summary>
internal static class InfoCommand
{
    public static Command Create(TextWriter stdout)
    {
        var server = CommonOptions.Server();
        server.Required = true;
        var apiKeyFile = CommonOptions.ApiKeyFile();
        var json = new Option<bool>("--json") { Description = "Write JSON instead of text" };
        var command = new Command("info", "Show a SegCam server: version, execution provider, methods, limits, models, classes and layers") { server, apiKeyFile, json };
        command.SetAction(async (parse, ct) =>
        {
            using var client = CommonOptions.Connect(parse.GetValue(server)!, parse.GetValue(apiKeyFile));
            var info = await client.GetServerInfoAsync(ct).ConfigureAwait(false);
            var models = await client.ListModelsAsync(ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                var formatter = new Google.Protobuf.JsonFormatter(Google.Protobuf.JsonFormatter.Settings.Default);
                await stdout.WriteLineAsync($"{{\"server\": {formatter.Format(info)}, \"models\": [{string.Join(", ", models.Select(m => formatter.Format(m)))}]}}").ConfigureAwait(false);
                return 0;
            }

            await stdout.WriteLineAsync($"SegCam server {info.Version} ({info.Protocol}) on {info.ExecutionProvider}{(info.DeviceNote.Length > 0 ? $" — {info.DeviceNote}" : string.Empty)}; API key {(info.AuthRequired ? "required" : "not required")}").ConfigureAwait(false);
            await stdout.WriteLineAsync($"methods: {string.Join(", ", info.Methods)}; pixel sets: {string.Join(", ", info.PixelSetKinds)}").ConfigureAwait(false);
            await stdout.WriteLineAsync($"limits: {info.Limits.MaxVoxels} voxels, {info.Limits.MaxMessageBytes} bytes per message, {info.Limits.MaxConcurrent} running + {info.Limits.MaxQueued} queued, volumes kept {info.Limits.VolumeIdleSeconds} s idle").ConfigureAwait(false);
            foreach (var m in models)
            {
                await stdout.WriteLineAsync($"model {m.Id} ({m.Dimensionality}-D): {m.Name}; classes {string.Join(", ", m.Classes.Select((c, i) => $"{i} {c}"))}; default layer {m.DefaultLayer}").ConfigureAwait(false);
                foreach (var l in m.Layers)
                {
                    await stdout.WriteLineAsync($"  {l.Role,-14} {l.Name}  [{string.Join(", ", l.Shape)}]  {l.OpType}").ConfigureAwait(false);
                }
            }

            return 0;
        });
        return command;
    }
}
