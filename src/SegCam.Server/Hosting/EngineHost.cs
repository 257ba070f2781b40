using Microsoft.Extensions.Logging;
using SegCam.Cam.Execution;

namespace SegCam.Server.Hosting;

/// <summary>The server's one engine (sessions cached per model, shape and options, shared by all calls) and its device.</summary>
internal sealed class EngineHost : IDisposable
{
    public EngineHost(SegCamServerOptions options, ILogger<EngineHost> logger)
    {
        var notes = new List<string>();
        Engine = new CamEngine(
            options.Device,
            message =>
            {
                notes.Add(message);
                Log.EngineNote(logger, message);
            },
            options.MaxCachedSessions);
        DeviceNote = string.Join("; ", notes);
    }

    public CamEngine Engine { get; }

    /// <summary>"CPU" or "CUDA": the provider actually in use.</summary>
    public string Provider => Engine.Sessions.Active == ExecutionDevice.Cuda ? "CUDA" : "CPU";

    /// <summary>Why the device differs from the one asked for, if it does.</summary>
    public string DeviceNote { get; }

    public void Dispose() => Engine.Dispose();
}
