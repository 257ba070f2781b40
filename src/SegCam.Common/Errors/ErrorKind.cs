namespace SegCam.Common.Errors;

/// <summary>What went wrong, independent of how a host reports it (exit code, gRPC status).</summary>
public enum ErrorKind
{
    /// <summary>A request, model, file or option is malformed or out of range.</summary>
    InvalidInput,

    /// <summary>A named thing (file, layer, class, model) does not exist.</summary>
    NotFound,

    /// <summary>The model uses something the engine has no rule for.</summary>
    Unsupported,

    /// <summary>A size or resource limit would be exceeded.</summary>
    ResourceLimit,

    /// <summary>The requested execution device is not available.</summary>
    DeviceUnavailable,
}
