using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;
using SegCam.Common.Errors;
using SegCam.Protocol.Mapping;
using SegCam.Server.Hosting;

namespace SegCam.Server.Interceptors;

/// <summary>
/// Around every call: a request id (response header and trailer "segcam-request-id", and the logging scope), start
/// and end logs with duration, metrics, and the one mapping of errors to gRPC statuses (STYLE.md's error table). The
/// error kind travels in the trailer "segcam-error-kind" so clients never parse message text. Exception details
/// leave the server only with detailed errors on.
/// </summary>
internal sealed class CallInterceptor(ILogger<CallInterceptor> logger, ServerMetrics metrics, SegCamServerOptions options) : Interceptor
{
    /// <summary>Metadata key of the request id.</summary>
    public const string RequestIdKey = ErrorDetails.RequestIdKey;

    /// <summary>Trailer key of the error kind.</summary>
    public const string ErrorKindKey = ErrorDetails.ErrorKindKey;

    /// <summary>The request id of a call (set by this interceptor).</summary>
    public static string RequestId(ServerCallContext context) => context.UserState.TryGetValue(RequestIdKey, out var id) ? (string)id : "-";

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        => Run(context, () => continuation(request, context));

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
        => Run(context, () => continuation(requestStream, context));

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
        => Run(context, async () =>
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
            return true;
        });

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
        => Run(context, async () =>
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
            return true;
        });

    private async Task<T> Run<T>(ServerCallContext context, Func<Task<T>> call)
    {
        var id = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..16];
        context.UserState[RequestIdKey] = id;
        var method = context.Method;
        var clock = Stopwatch.StartNew();
        using var scope = logger.BeginScope("request {SegCamRequestId}", id);
        Log.CallStarted(logger, method);
        await context.WriteResponseHeadersAsync(new Metadata { { RequestIdKey, id } }).ConfigureAwait(false);
        context.ResponseTrailers.Add(RequestIdKey, id);
        try
        {
            var result = await call().ConfigureAwait(false);
            Finish(method, StatusCode.OK, clock);
            return result;
        }
        catch (RpcException ex)
        {
            // Raised by the framework or by the auth interceptor: keep its status, add our trailers.
            Log.CallRefused(logger, method, ex.StatusCode.ToString(), ex.StatusCode.ToString(), ex.Status.Detail);
            Finish(method, ex.StatusCode, clock);
            throw Error(ex.StatusCode, ex.Status.Detail, id, ex.Trailers.GetValue(ErrorKindKey) ?? ex.StatusCode.ToString());
        }
        catch (Exception) when (context.CancellationToken.IsCancellationRequested || context.Deadline <= DateTime.UtcNow)
        {
            // The deadline can pass before the framework cancels the token; a write to the finished stream then fails first.
            // Cancelled by the client or its deadline: whatever the computation or a late write threw, the call is over.
            Log.CallCancelled(logger, method);
            var status = context.Deadline <= DateTime.UtcNow ? StatusCode.DeadlineExceeded : StatusCode.Cancelled;
            Finish(method, status, clock);
            throw Error(status, status == StatusCode.DeadlineExceeded ? "the call's deadline passed; the computation was stopped" : "the call was cancelled; the computation was stopped", id, status.ToString());
        }
        catch (SegCamException ex)
        {
            var status = StatusOf(ex.Kind);
            Log.CallRefused(logger, method, status.ToString(), ex.Kind.ToString(), ex.Message);
            Finish(method, status, clock);
            throw Error(status, ex.Message, id, ex.Kind.ToString());
        }
        catch (Exception ex)
        {
            Log.CallFailed(logger, method, ex);
            Finish(method, StatusCode.Internal, clock);
            var detail = options.DetailedErrors ? $"internal error (request id {id}): {ex}" : $"internal error (request id {id}); the server log has the details";
            throw Error(StatusCode.Internal, detail, id, "Internal");
        }
    }

    /// <summary>The status of an error kind (STYLE.md's table).</summary>
    public static StatusCode StatusOf(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidInput => StatusCode.InvalidArgument,
        ErrorKind.NotFound => StatusCode.NotFound,
        ErrorKind.Unsupported => StatusCode.Unimplemented,
        ErrorKind.ResourceLimit => StatusCode.ResourceExhausted,
        ErrorKind.DeviceUnavailable => StatusCode.FailedPrecondition,
        _ => StatusCode.Internal,
    };

    private static RpcException Error(StatusCode code, string message, string id, string kind) => new(new Status(code, message), ErrorDetails.Trailers(code, message, kind, id));

    private void Finish(string method, StatusCode status, Stopwatch clock)
    {
        Log.CallFinished(logger, method, status.ToString(), clock.Elapsed.TotalMilliseconds);
        metrics.Completed(method, status.ToString(), clock.Elapsed);
    }
}
