using Grpc.Core;
using SegCam.Common.Errors;

namespace SegCam.Client;

/// <summary>A call the server refused or failed: its status, the server's error kind and message, and the request id.</summary>
public sealed class RemoteCallException : SegCamException
{
    private readonly ErrorKind _kind;

    public RemoteCallException(RpcException inner)
        : base(Describe(inner), inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Status = inner.StatusCode;
        RequestId = inner.Trailers.GetValue(Protocol.Mapping.ErrorDetails.RequestIdKey);
        ServerKind = Protocol.Mapping.ErrorDetails.KindOf(inner);
        _kind = Enum.TryParse<ErrorKind>(ServerKind, out var kind) ? kind : inner.StatusCode switch
        {
            StatusCode.InvalidArgument or StatusCode.Unauthenticated or StatusCode.PermissionDenied => ErrorKind.InvalidInput,
            StatusCode.NotFound => ErrorKind.NotFound,
            StatusCode.Unimplemented => ErrorKind.Unsupported,
            StatusCode.ResourceExhausted => ErrorKind.ResourceLimit,
            StatusCode.FailedPrecondition or StatusCode.Unavailable => ErrorKind.DeviceUnavailable,
            _ => ErrorKind.InvalidInput,
        };
    }

    /// <summary>The gRPC status.</summary>
    public StatusCode Status { get; }

    /// <summary>The server's request id (its log has the details), if it answered.</summary>
    public string? RequestId { get; }

    /// <summary>The server's error kind ("InvalidInput", "NotFound", …, "Unauthenticated", "Internal"), if sent.</summary>
    public string? ServerKind { get; }

    /// <inheritdoc />
    public override ErrorKind Kind => _kind;

    private static string Describe(RpcException ex)
    {
        var id = ex.Trailers.GetValue(Protocol.Mapping.ErrorDetails.RequestIdKey);
        var text = ex.StatusCode == StatusCode.Unavailable ? $"cannot reach the server ({ex.Status.Detail}): is it running, and is the address right?" : ex.Status.Detail;
        return id is null ? $"{ex.StatusCode}: {text}" : $"{ex.StatusCode}: {text} (request id {id})";
    }
}
