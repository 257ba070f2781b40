"""Texts the user sees: error messages (VIEWER.md §10), progress lines (§5) and the version check (§4).

Pure Python: the error is read by its attributes (``code``, ``message``, ``request_id``, ``kind``) so this module
needs neither ``grpc`` nor ``segcam_client``.
"""

from __future__ import annotations

import re
from typing import Any, Optional, Tuple


def status_name(error: Any) -> str:
    """The gRPC status of an error as an upper-case name ("NOT_FOUND"), or "" when it has none.

    ``code`` may be a ``grpc.StatusCode``, its name, or absent; a ``kind`` such as "not_found" or "NotFound" is
    the fallback.
    """
    code = getattr(error, "code", None)
    if callable(code):
        try:
            code = code()
        except TypeError:
            code = None
    name = getattr(code, "name", code)
    if isinstance(name, str) and name:
        return name.upper()
    kind = getattr(error, "kind", None)
    if isinstance(kind, str) and kind:
        snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", kind)
        return snake.replace("-", "_").upper()
    return ""


def is_status(error: Any, *names: str) -> bool:
    return status_name(error) in names


def user_message(error: Any, endpoint: str = "", timeout_s: Optional[float] = None) -> str:
    """One or two sentences for the status line or the error dialog, per VIEWER.md §10.

    The client's own text (``SegCamError.user_message``) is used when it has one; the mapping below covers
    other errors and clients without it.
    """
    own = getattr(error, "user_message", None)
    if isinstance(own, str) and (own or status_name(error) == "CANCELLED"):
        return own
    status = status_name(error)
    server_text = str(getattr(error, "message", "") or "").strip() or str(error)
    where = endpoint or "the server"
    if status == "UNAVAILABLE":
        return (
            f"Cannot reach {where}: is the server running, is a firewall in the way, or does the TLS setting "
            "match the server? Try again once it is up."
        )
    if status == "DEADLINE_EXCEEDED":
        after = f" in {timeout_s:g} s" if timeout_s else " in time"
        return f"No answer from {where}{after}; raise the timeout in the SegCam settings or ask for less."
    if status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return f"{where} refused the access token. Enter the token again."
    if status in ("INVALID_ARGUMENT", "FAILED_PRECONDITION", "NOT_FOUND"):
        return f"The server refused the request: {server_text}"
    if status == "RESOURCE_EXHAUSTED":
        return (
            f"The server ran out of memory or a size limit was hit ({server_text}). Choose a smaller region "
            "or a lower resolution, or try again when the server is less busy."
        )
    if status == "UNIMPLEMENTED":
        return f"This server version does not support the request ({server_text}). Update the server."
    if status == "CANCELLED":
        return ""
    return f"The server failed to answer the request ({server_text}). See the details."


def detail_text(error: Any, traceback_text: str = "") -> str:
    """Details for ``errorDisplay(detailedText=...)``: status, server message, request id, traceback."""
    lines = []
    status = status_name(error)
    if status:
        lines.append(f"gRPC status: {status}")
    kind = getattr(error, "kind", None)
    if kind:
        lines.append(f"Error kind: {kind}")
    message = getattr(error, "message", None)
    lines.append(f"Message: {message if message else error}")
    request_id = getattr(error, "request_id", None)
    if request_id:
        lines.append(f"Request id: {request_id}")
    extra = getattr(error, "details", None)
    if isinstance(extra, str) and extra:
        lines.append(extra)
    if traceback_text:
        lines.append("")
        lines.append(traceback_text.rstrip())
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_fraction(progress: Any) -> Optional[float]:
    """done/total in [0, 1], or None when the stage has no total (indeterminate bar)."""
    total = getattr(progress, "total", 0) or 0
    if total <= 0:
        return None
    done = getattr(progress, "done", 0) or 0
    return min(1.0, max(0.0, done / total))


def format_progress(progress: Any) -> str:
    """"explain 12/48 · 25% · 0:14 elapsed · about 0:42 left" (parts without data are left out)."""
    stage = getattr(progress, "stage", "") or "working"
    parts = [stage]
    fraction = progress_fraction(progress)
    if fraction is not None:
        parts[0] = f"{stage} {progress.done}/{progress.total}"
        parts.append(f"{fraction * 100:.0f}%")
    elapsed = getattr(progress, "elapsed_seconds", None)
    if elapsed is not None:
        parts.append(f"{_clock(elapsed)} elapsed")
    remaining = getattr(progress, "remaining_seconds", None)
    if remaining is not None:
        parts.append(f"about {_clock(remaining)} left")
    return " · ".join(parts)


def _version_numbers(version: str) -> Optional[Tuple[int, int, int]]:
    match = re.match(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def check_server_version(server_version: str, plugin_version: str) -> Tuple[bool, str]:
    """(compatible, note). Different major versions are refused and the note says which side to update; before
    1.0 a different minor version is allowed with a warning (the protocol package, segcam.v1, is the contract)."""
    server = _version_numbers(server_version)
    plugin = _version_numbers(plugin_version)
    if server is None:
        return True, f"The server reports no usable version ({server_version!r}); continuing."
    if plugin is None:
        return True, ""
    if server[0] != plugin[0]:
        older = "server" if server[0] < plugin[0] else "SegCam extension"
        return False, (
            f"Server {server_version} and SegCam extension {plugin_version} are incompatible; update the {older}."
        )
    if server[0] == 0 and server[1] != plugin[1]:
        older = "server" if server[1] < plugin[1] else "SegCam extension"
        return True, (
            f"Server {server_version} and SegCam extension {plugin_version} differ; if something fails, "
            f"update the {older}."
        )
    return True, ""
