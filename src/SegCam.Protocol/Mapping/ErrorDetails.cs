using System.Text.RegularExpressions;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace SegCam.Protocol.Mapping;

/// <summary>
/// The rich error model of segcam.v1 errors (grpc/grpc doc/statuscodes.md, google.rpc.Status): an
/// <see cref="ErrorInfo"/> whose reason is the server's error kind and, for INVALID_ARGUMENT with a message that
/// starts with a field path ("pixel_set.runs has …"), a <see cref="BadRequest"/> naming that field. The same kind and
/// the request id also travel as plain trailers for clients without the google.rpc protos.
/// </summary>
public static partial class ErrorDetails
{
    /// <summary>The ErrorInfo domain.</summary>
    public const string Domain = "segcam.v1";

    /// <summary>Trailer with the request id (also a response header).</summary>
    public const string RequestIdKey = "segcam-request-id";

    /// <summary>Trailer with the error kind.</summary>
    public const string ErrorKindKey = "segcam-error-kind";

    /// <summary>The trailers of an error: request id, kind, and grpc-status-details-bin.</summary>
    public static Metadata Trailers(StatusCode code, string message, string kind, string requestId)
    {
        var status = new Google.Rpc.Status { Code = (int)code, Message = message };
        status.Details.Add(Any.Pack(new ErrorInfo { Reason = kind, Domain = Domain, Metadata = { ["request_id"] = requestId } }));
        if (code == StatusCode.InvalidArgument && FieldOf(message) is { } field)
        {
            status.Details.Add(Any.Pack(new BadRequest { FieldViolations = { new BadRequest.Types.FieldViolation { Field = field, Description = message } } }));
        }

        var trailers = new Metadata { { RequestIdKey, requestId }, { ErrorKindKey, kind } };
        trailers.SetRpcStatus(status);
        return trailers;
    }

    /// <summary>The error kind of <paramref name="error"/>: its ErrorInfo reason, else the plain trailer.</summary>
    public static string? KindOf(RpcException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var info = error.GetRpcStatus()?.Details.Where(d => d.Is(ErrorInfo.Descriptor)).Select(d => d.Unpack<ErrorInfo>()).FirstOrDefault(i => i.Domain == Domain);
        return info?.Reason ?? error.Trailers.GetValue(ErrorKindKey);
    }

    /// <summary>The request field a message names first ("options.batch_size is 1000 …" → options.batch_size), if any.</summary>
    public static string? FieldOf(string message)
    {
        var match = FieldPath().Match(message);
        return match.Success ? match.Groups[1].Value : null;
    }

    [GeneratedRegex(@"^([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*) (?:is|has|holds|would|must|lists|needs|are)\b")]
    private static partial Regex FieldPath();
}
