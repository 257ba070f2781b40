"""SegCamError: kinds, request ids and the user-facing text of docs/VIEWER.md §10 (without a server)."""

import grpc
import pytest

from segcam_client import InvalidInputError, SegCamError
from segcam_client.errors import from_rpc_error, kind_of_status


class FakeRpcError(grpc.RpcError):
    def __init__(self, code, details, trailing=(), initial=()):
        self._code, self._details, self._trailing, self._initial = code, details, trailing, initial

    def code(self):
        return self._code

    def details(self):
        return self._details

    def trailing_metadata(self):
        return self._trailing

    def initial_metadata(self):
        return self._initial


def test_kind_comes_from_the_trailer_else_from_the_status():
    err = from_rpc_error(FakeRpcError(grpc.StatusCode.NOT_FOUND, "layer 'x' not found",
                                      trailing=(("segcam-error-kind", "layer-not-found"),
                                                ("segcam-request-id", "r-1"))), endpoint="h:1")
    assert (err.kind, err.code, err.message, err.request_id) == ("layer-not-found", grpc.StatusCode.NOT_FOUND,
                                                                 "layer 'x' not found", "r-1")
    assert err.user_message == "layer 'x' not found"
    derived = from_rpc_error(FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "queue full",
                                          initial=(("segcam-request-id", b"r-2"),)))
    assert derived.kind == "resource-exhausted" and derived.request_id == "r-2"
    assert kind_of_status(grpc.StatusCode.DEADLINE_EXCEEDED) == "deadline-exceeded"
    assert kind_of_status(None) == "unknown"


def test_cancellation_is_always_kind_cancelled_and_silent():
    err = from_rpc_error(FakeRpcError(grpc.StatusCode.CANCELLED, "Locally cancelled by application!",
                                      trailing=(("segcam-error-kind", "whatever"),)))
    assert err.kind == "cancelled" and err.is_cancelled and err.user_message == ""


@pytest.mark.parametrize("code, words", [
    (grpc.StatusCode.UNAVAILABLE, ["Cannot reach gpu01:5055", "firewall", "TLS", "Retry"]),
    (grpc.StatusCode.DEADLINE_EXCEEDED, ["within 12.5 s", "raise the timeout"]),
    (grpc.StatusCode.UNAUTHENTICATED, ["token once more"]),
    (grpc.StatusCode.PERMISSION_DENIED, ["token once more"]),
    (grpc.StatusCode.INVALID_ARGUMENT, ["server text"]),
    (grpc.StatusCode.FAILED_PRECONDITION, ["server text"]),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, ["smaller region", "server text"]),
    (grpc.StatusCode.UNIMPLEMENTED, ["update the SegCam server"]),
    (grpc.StatusCode.INTERNAL, ["failed (request id r-9)", "details"]),
    (grpc.StatusCode.UNKNOWN, ["failed (request id r-9)"]),
])
def test_user_messages(code, words):
    err = from_rpc_error(FakeRpcError(code, "server text", trailing=(("segcam-request-id", "r-9"),)),
                         endpoint="gpu01:5055", timeout=12.5)
    for word in words:
        assert word in err.user_message
    assert f"status: {code.name}" in err.detailed_text and "request id: r-9" in err.detailed_text
    assert code.name in str(err)


def test_invalid_input_is_also_a_value_error():
    err = InvalidInputError("chunk_bytes must be positive")
    assert isinstance(err, ValueError) and isinstance(err, SegCamError)
    assert err.kind == "invalid-input" and err.code is None and err.user_message == "chunk_bytes must be positive"
