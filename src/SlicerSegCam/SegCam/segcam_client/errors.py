"""SegCamError: the one exception type of segcam_client, with a user-facing text per gRPC status (docs/VIEWER.md §10).

Every grpc.RpcError the client sees is turned into a SegCamError by :func:`from_rpc_error`. Problems found on the
client side before anything is sent (a wrong array shape, an unsupported dtype) raise :class:`InvalidInputError`,
which is also a ValueError so scripts can catch it the usual way.
"""

from __future__ import annotations

import grpc

#: Trailer (and header) names the server sets; see the comment at the top of segcam.proto.
ERROR_KIND_KEY = "segcam-error-kind"
REQUEST_ID_KEY = "segcam-request-id"

# Kinds the client derives from the status when the server sent no "segcam-error-kind" trailer (a proxy, a
# transport failure, a server without the trailer). Lower-case, hyphenated, like the server's kinds.
_KIND_OF_STATUS = {
    grpc.StatusCode.CANCELLED: "cancelled",
    grpc.StatusCode.UNKNOWN: "unknown",
    grpc.StatusCode.INVALID_ARGUMENT: "invalid-argument",
    grpc.StatusCode.DEADLINE_EXCEEDED: "deadline-exceeded",
    grpc.StatusCode.NOT_FOUND: "not-found",
    grpc.StatusCode.ALREADY_EXISTS: "already-exists",
    grpc.StatusCode.PERMISSION_DENIED: "permission-denied",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "resource-exhausted",
    grpc.StatusCode.FAILED_PRECONDITION: "failed-precondition",
    grpc.StatusCode.ABORTED: "aborted",
    grpc.StatusCode.OUT_OF_RANGE: "out-of-range",
    grpc.StatusCode.UNIMPLEMENTED: "unimplemented",
    grpc.StatusCode.INTERNAL: "internal",
    grpc.StatusCode.UNAVAILABLE: "unavailable",
    grpc.StatusCode.DATA_LOSS: "data-loss",
    grpc.StatusCode.UNAUTHENTICATED: "unauthenticated",
}

#: Kinds raised by the client itself (no gRPC status).
KIND_INVALID_INPUT = "invalid-input"
KIND_INCOMPATIBLE = "incompatible"
KIND_INSECURE = "insecure-endpoint"
KIND_PROTOCOL = "protocol"
KIND_GEOMETRY = "geometry-mismatch"
KIND_CANCELLED = "cancelled"


def kind_of_status(code: grpc.StatusCode | None) -> str:
    """The client's kind for a status code ("unknown" for None)."""
    if code is None:
        return "unknown"
    return _KIND_OF_STATUS.get(code, code.name.lower().replace("_", "-"))


class SegCamError(Exception):
    """A failed SegCam call or a request the client refused to send.

    Attributes:
        kind: the server's error kind ("segcam-error-kind" trailer), else one derived from the status
            (e.g. "unavailable"), else a client kind ("invalid-input", "incompatible", "protocol", ...).
        code: the grpc.StatusCode, or None when the error arose in the client.
        message: the server's status text or the client's explanation.
        request_id: the id under which the server logged the call ("segcam-request-id"), when known.
        endpoint: host:port of the server, when known (used in the user-facing text).
        timeout: the deadline in seconds that applied, when known.
        partial_result: for a cancelled or failed CAM stream, the CamResult received so far (heatmaps with
            complete=False); None otherwise.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        code: grpc.StatusCode | None = None,
        request_id: str | None = None,
        endpoint: str | None = None,
        timeout: float | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code
        self.request_id = request_id
        self.endpoint = endpoint
        self.timeout = timeout
        self.details = details
        self.partial_result = None

    def __str__(self) -> str:
        tags = [self.kind]
        if self.code is not None:
            tags.append(self.code.name)
        if self.request_id:
            tags.append(f"request {self.request_id}")
        return f"{self.message or self.kind} [{', '.join(tags)}]"

    @property
    def is_cancelled(self) -> bool:
        return self.kind == KIND_CANCELLED or self.code == grpc.StatusCode.CANCELLED

    @property
    def user_message(self) -> str:
        """Text for the status line or an error dialog (docs/VIEWER.md §10); empty for a cancellation."""
        where = self.endpoint or "the SegCam server"
        code = self.code
        if self.is_cancelled:
            return ""
        if code is None:
            return self.message
        if code == grpc.StatusCode.UNAVAILABLE:
            return (f"Cannot reach {where}: is the server running, is a firewall in the way, or do TLS settings "
                    f"differ between client and server? Retry when the server is up.")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            waited = f"{self.timeout:g} s" if self.timeout is not None else "the allowed time"
            return f"No answer from {where} within {waited}; raise the timeout or ask for less work."
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return (f"{where} refused the access token ({self.message or code.name}); "
                    f"enter the token once more.")
        if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION,
                    grpc.StatusCode.NOT_FOUND):
            return self.message or f"The server rejected the request ({code.name})."
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return (f"The server ran out of memory or hit a size limit ({self.message or code.name}); "
                    f"choose a smaller region, fewer slices or a lower resolution, or retry later.")
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return (f"This server version lacks the requested operation ({self.message or code.name}); "
                    f"update the SegCam server.")
        suffix = f" (request id {self.request_id})" if self.request_id else ""
        return f"The SegCam server failed{suffix}; see the details for the server's message."

    @property
    def detailed_text(self) -> str:
        """Status, server message, request id and endpoint, for slicer.util.errorDisplay(detailedText=...)."""
        lines = [f"kind: {self.kind}"]
        if self.code is not None:
            lines.append(f"status: {self.code.name}")
        if self.message:
            lines.append(f"message: {self.message}")
        if self.request_id:
            lines.append(f"request id: {self.request_id}")
        if self.endpoint:
            lines.append(f"endpoint: {self.endpoint}")
        if self.details:
            lines.append(self.details)
        return "\n".join(lines)


class InvalidInputError(SegCamError, ValueError):
    """A request the client refused to send because an argument is wrong (the message says what is allowed)."""

    def __init__(self, message: str) -> None:
        super().__init__(KIND_INVALID_INPUT, message)


def _metadata_value(items, key: str) -> str | None:
    if not items:
        return None
    for item in items:
        # grpc gives (key, value) tuples or _Metadatum objects with .key/.value.
        k, v = (item.key, item.value) if hasattr(item, "key") else item
        if k.lower() == key:
            return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    return None


def _call_metadata(err, method: str):
    getter = getattr(err, method, None)
    if getter is None:
        return None
    try:
        return getter()
    except (grpc.RpcError, ValueError, AttributeError, RuntimeError):
        # Metadata of a call that never reached the server is not available on every grpc version.
        return None


def from_rpc_error(err: grpc.RpcError, endpoint: str | None = None, timeout: float | None = None,
                   cancelled_by_client: bool = False) -> SegCamError:
    """Converts a grpc.RpcError (a failed call) into a SegCamError with kind, code, message and request id."""
    code = err.code() if hasattr(err, "code") else None
    message = err.details() if hasattr(err, "details") else str(err)
    trailing = _call_metadata(err, "trailing_metadata")
    initial = _call_metadata(err, "initial_metadata")
    kind = _metadata_value(trailing, ERROR_KIND_KEY)
    request_id = _metadata_value(trailing, REQUEST_ID_KEY) or _metadata_value(initial, REQUEST_ID_KEY)
    if cancelled_by_client or code == grpc.StatusCode.CANCELLED:
        kind = KIND_CANCELLED
    if not kind:
        kind = kind_of_status(code)
    # grpc 1.51's debug_error_string() blocks forever on a locally cancelled call: ask only for real failures.
    debug = getattr(err, "debug_error_string", None) if kind != KIND_CANCELLED else None
    details = None
    if callable(debug):
        try:
            details = f"grpc: {debug()}"
        except (ValueError, AttributeError, RuntimeError):
            details = None
    return SegCamError(kind, message or "", code=code, request_id=request_id, endpoint=endpoint,
                       timeout=timeout, details=details)
