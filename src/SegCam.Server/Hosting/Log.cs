using Microsoft.Extensions.Logging;

namespace SegCam.Server.Hosting;

/// <summary>The server's log messages (event ids 4000–4099). Never voxels or patient data.</summary>
internal static partial class Log
{
    [LoggerMessage(4000, LogLevel.Information, "{Method} started")]
    public static partial void CallStarted(ILogger logger, string method);

    [LoggerMessage(4001, LogLevel.Information, "{Method} finished: {Status} in {Milliseconds:F1} ms")]
    public static partial void CallFinished(ILogger logger, string method, string status, double milliseconds);

    [LoggerMessage(4002, LogLevel.Information, "{Method} refused: {Status} ({Kind}): {Message}")]
    public static partial void CallRefused(ILogger logger, string method, string status, string kind, string message);

    [LoggerMessage(4003, LogLevel.Error, "{Method} failed with an internal error")]
    public static partial void CallFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(4004, LogLevel.Information, "{Method} cancelled by the client or its deadline")]
    public static partial void CallCancelled(ILogger logger, string method);

    [LoggerMessage(4010, LogLevel.Information, "volume {VolumeId} stored: {Size} {Type}, {Bytes} bytes, deduplicated {Deduplicated}")]
    public static partial void VolumeStored(ILogger logger, string volumeId, string size, string type, long bytes, bool deduplicated);

    [LoggerMessage(4011, LogLevel.Information, "ComputeCam model {Model}, class {Class}, methods {Methods}, layers {Layers}: {Units} units, {Voxels} pixel-set voxels, {Seconds:F2} s compute")]
    public static partial void CamComputed(ILogger logger, string model, int @class, string methods, string layers, int units, long voxels, double seconds);

    [LoggerMessage(4020, LogLevel.Warning, "{Message}")]
    public static partial void EngineNote(ILogger logger, string message);

    [LoggerMessage(4021, LogLevel.Information, "serving {Models} models from {Directory} on {Provider}; API key {Auth}")]
    public static partial void Serving(ILogger logger, int models, string directory, string provider, string auth);
}
