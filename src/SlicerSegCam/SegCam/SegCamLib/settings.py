"""Connection settings (VIEWER.md §4): endpoint history, CA bundle, per-endpoint opt-ins and consent, the token.

What is stored where:

* QSettings (plain text on disk): the last 10 endpoints, the CA bundle path, the token *file path*, the compute
  timeout, a wheel folder, and per endpoint + TLS mode the user's consent and remote-plaintext opt-in.
* Never stored: the token itself. It lives in memory (typed by the user), in ``SEGCAM_TOKEN`` or in the file named
  by ``SEGCAM_TOKEN_FILE`` (or the token-file setting). It is never put in the parameter node, node attributes,
  logs or QSettings.
* ``SEGCAM_ENDPOINT`` and ``SEGCAM_CA_FILE`` pin the server for IT; the UI shows them read-only.

The endpoint rules match ``segcam_client.policy`` (which the client applies again when it connects); they are
repeated here because this module must work before grpc is installed (the client package imports grpc), e.g. to
fill the endpoint history when the module's panel opens.

Pure Python: ``store`` is anything with ``value(key, default)``, ``setValue(key, value)`` and ``remove(key)``;
``QSettingsStore`` wraps ``qt.QSettings`` in Slicer and ``MemoryStore`` is used in tests.
"""

from __future__ import annotations

import ipaddress
import json
import os
import stat
from typing import Any, List, Mapping, Optional, Tuple
from urllib.parse import quote

DEFAULT_PORT = 5055
DEFAULT_ENDPOINT = f"127.0.0.1:{DEFAULT_PORT}"
HISTORY_SIZE = 10
DEFAULT_COMPUTE_TIMEOUT_S = 900.0
INFO_TIMEOUT_S = 10.0

ENV_ENDPOINT = "SEGCAM_ENDPOINT"
ENV_CA_FILE = "SEGCAM_CA_FILE"
ENV_TOKEN = "SEGCAM_TOKEN"
ENV_TOKEN_FILE = "SEGCAM_TOKEN_FILE"

PREFIX = "SegCam/"
KEY_HISTORY = PREFIX + "EndpointHistory"
KEY_CA_FILE = PREFIX + "CaFile"
KEY_TOKEN_FILE = PREFIX + "TokenFile"
KEY_TIMEOUT = PREFIX + "ComputeTimeoutSeconds"
KEY_WHEELS = PREFIX + "WheelFolder"
CONSENT_GROUP = PREFIX + "Consent/"
INSECURE_GROUP = PREFIX + "AllowPlaintext/"


class MemoryStore:
    """A dict with the QSettings calls the settings use."""

    def __init__(self, values: Optional[Mapping[str, Any]] = None):
        self.values = dict(values or {})

    def value(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def setValue(self, key: str, value: Any) -> None:
        self.values[key] = value

    def remove(self, key: str) -> None:
        for existing in [k for k in self.values if k == key or k.startswith(key.rstrip("/") + "/")]:
            del self.values[existing]

    def allKeys(self) -> List[str]:
        return list(self.values)


class QSettingsStore:
    """``qt.QSettings()`` (Slicer's settings file), created on first use."""

    def __init__(self):
        self._settings = None

    def _qsettings(self):
        if self._settings is None:
            import qt

            self._settings = qt.QSettings()
        return self._settings

    def value(self, key: str, default: Any = None) -> Any:
        return self._qsettings().value(key, default)

    def setValue(self, key: str, value: Any) -> None:
        self._qsettings().setValue(key, value)

    def remove(self, key: str) -> None:
        self._qsettings().remove(key)

    def allKeys(self) -> List[str]:
        return list(self._qsettings().allKeys())


# -- endpoints --------------------------------------------------------------------------------------------------


def normalize_endpoint(text: str, default_port: int = DEFAULT_PORT) -> Tuple[str, List[str]]:
    """``host:port`` from what a user pastes, and notes on what was changed.

    Schemes and paths are stripped ("http://host:5055/" → "host:5055"), a missing port gets the default, and the
    bind address 0.0.0.0 (or ::) becomes 127.0.0.1, with a note, since one connects to an address, not to "any".
    """
    notes: List[str] = []
    value = (text or "").strip()
    if not value:
        return DEFAULT_ENDPOINT, notes
    if "://" in value:
        scheme, value = value.split("://", 1)
        notes.append(f"Removed '{scheme}://': the endpoint is host:port.")
    value = value.split("/", 1)[0].strip()
    host, port = value, ""
    if value.startswith("["):  # [ipv6]:port
        end = value.find("]")
        host, rest = value[1:end], value[end + 1:]
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, port = value.split(":", 1)
    elif value.count(":") > 1:  # bare IPv6 address without port
        host = value
    if not port:
        port = str(default_port)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"'{text}' has no valid port (1-65535)")
    if host in ("0.0.0.0", "::", ""):
        loopback = "::1" if host == "::" else "127.0.0.1"
        if host:
            notes.append(f"{host} is the address a server binds to; connecting to {loopback} instead.")
        host = loopback
    host_text = f"[{host}]" if ":" in host else host
    return f"{host_text}:{int(port)}", notes


def endpoint_host(endpoint: str) -> str:
    if endpoint.startswith("["):
        return endpoint[1:endpoint.index("]")]
    return endpoint.rsplit(":", 1)[0]


def is_loopback(endpoint: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost (plaintext is allowed only there)."""
    host = endpoint_host(endpoint).lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _key_part(endpoint: str) -> str:
    # QSettings treats '/' as a group separator and INI files dislike ':'; percent-encoding keeps keys flat.
    return quote(endpoint, safe="")


class SegCamSettings:
    """Persistent SegCam settings over a QSettings-like ``store``; environment overrides from ``environ``."""

    def __init__(self, store: Any = None, environ: Optional[Mapping[str, str]] = None):
        self.store = store if store is not None else QSettingsStore()
        self.environ = environ if environ is not None else os.environ

    # endpoint and history

    def pinned_endpoint(self) -> Optional[str]:
        """``SEGCAM_ENDPOINT`` normalised, or None: when set, the UI shows it read-only."""
        value = self.environ.get(ENV_ENDPOINT, "").strip()
        return normalize_endpoint(value)[0] if value else None

    def endpoint_history(self) -> List[str]:
        raw = self.store.value(KEY_HISTORY, "")
        try:
            items = json.loads(raw) if isinstance(raw, str) and raw else list(raw or [])
        except ValueError:
            items = []
        return [str(item) for item in items if isinstance(item, str) and item][:HISTORY_SIZE]

    def remember_endpoint(self, endpoint: str) -> List[str]:
        """Move ``endpoint`` to the top of the history, keeping the last 10."""
        history = [endpoint] + [e for e in self.endpoint_history() if e != endpoint]
        history = history[:HISTORY_SIZE]
        self.store.setValue(KEY_HISTORY, json.dumps(history))
        return history

    def default_endpoint(self) -> str:
        pinned = self.pinned_endpoint()
        if pinned:
            return pinned
        history = self.endpoint_history()
        return history[0] if history else DEFAULT_ENDPOINT

    # TLS

    def ca_file(self) -> Optional[str]:
        value = self.environ.get(ENV_CA_FILE, "").strip() or str(self.store.value(KEY_CA_FILE, "") or "").strip()
        return value or None

    def ca_file_pinned(self) -> bool:
        return bool(self.environ.get(ENV_CA_FILE, "").strip())

    def set_ca_file(self, path: Optional[str]) -> None:
        self.store.setValue(KEY_CA_FILE, path or "")

    def plaintext_allowed(self, endpoint: str) -> bool:
        """The per-endpoint opt-in for plaintext to a non-loopback server."""
        return _truthy(self.store.value(INSECURE_GROUP + _key_part(endpoint), False))

    def set_plaintext_allowed(self, endpoint: str, allowed: bool) -> None:
        key = INSECURE_GROUP + _key_part(endpoint)
        if allowed:
            self.store.setValue(key, True)
        else:
            self.store.remove(key)

    def uses_tls(self, endpoint: str) -> bool:
        """Plaintext on loopback; elsewhere TLS unless the user opted in to plaintext for this endpoint."""
        return not is_loopback(endpoint) and not self.plaintext_allowed(endpoint)

    # consent

    def needs_consent(self, endpoint: str) -> bool:
        return not is_loopback(endpoint) and not self.has_consent(endpoint, self.uses_tls(endpoint))

    def has_consent(self, endpoint: str, tls: bool) -> bool:
        return _truthy(self.store.value(self._consent_key(endpoint, tls), False))

    def give_consent(self, endpoint: str, tls: bool) -> None:
        self.store.setValue(self._consent_key(endpoint, tls), True)

    def revoke_consents(self) -> None:
        self.store.remove(CONSENT_GROUP.rstrip("/"))

    def forget_remote_choices(self) -> None:
        """Forget every consent and every plaintext opt-in (the settings panel's button)."""
        self.revoke_consents()
        self.store.remove(INSECURE_GROUP.rstrip("/"))

    @staticmethod
    def _consent_key(endpoint: str, tls: bool) -> str:
        return CONSENT_GROUP + _key_part(endpoint) + ("-tls" if tls else "-plaintext")

    # other settings

    def compute_timeout(self) -> float:
        try:
            value = float(self.store.value(KEY_TIMEOUT, DEFAULT_COMPUTE_TIMEOUT_S))
        except (TypeError, ValueError):
            return DEFAULT_COMPUTE_TIMEOUT_S
        return value if value > 0 else DEFAULT_COMPUTE_TIMEOUT_S

    def token_file(self) -> Optional[str]:
        value = self.environ.get(ENV_TOKEN_FILE, "").strip() or str(self.store.value(KEY_TOKEN_FILE, "") or "")
        return value.strip() or None

    def wheel_folder(self) -> Optional[str]:
        value = str(self.store.value(KEY_WHEELS, "") or "").strip()
        return value or None


def consent_text(endpoint: str, tls: bool) -> str:
    """What the consent prompt says before the first upload to a non-loopback server."""
    transport = (
        "The connection is encrypted (TLS)."
        if tls
        else "The connection is NOT encrypted: anyone on the network path can read the data."
    )
    return (
        f"SegCam is about to send data to the server at {endpoint}:\n\n"
        "  • the voxels of the selected CT volume and its geometry (size, spacing, origin, orientation),\n"
        "  • the voxels of the selected segment (and of the ground-truth segment, if one is chosen).\n\n"
        "No DICOM header, patient data or node name is sent; the volume travels under an opaque id.\n"
        f"{transport}\n\nSend the data to this server? SegCam remembers the answer for this server."
    )


def plaintext_warning(endpoint: str) -> str:
    """The question before opting in to plaintext for one non-loopback server."""
    return (
        f"SegCam could not reach {endpoint} over TLS. If that server does not offer TLS, SegCam can connect "
        "without encryption; CT voxels would then cross the network readable by anyone on the path.\n\n"
        "Connect to this server without encryption? (Only on a trusted network; SegCam remembers the choice "
        "for this server until you clear it in Application Settings → SegCam.)"
    )


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


class TokenSource:
    """The bearer token, from memory (typed in), ``SEGCAM_TOKEN`` or a token file, in that order.

    ``repr`` never shows the token.
    """

    def __init__(self, settings: Optional[SegCamSettings] = None, environ: Optional[Mapping[str, str]] = None):
        self._settings = settings
        self._environ = environ if environ is not None else (settings.environ if settings else os.environ)
        self._memory: Optional[str] = None

    def __repr__(self) -> str:
        return f"TokenSource(source={self.source()!r})"

    def set(self, token: Optional[str]) -> None:
        token = (token or "").strip()
        self._memory = token or None

    def clear(self) -> None:
        self._memory = None

    def _file(self) -> Optional[str]:
        path = self._environ.get(ENV_TOKEN_FILE, "").strip()
        if not path and self._settings is not None:
            path = self._settings.token_file() or ""
        return path or None

    def source(self) -> str:
        """"memory", "environment", "file" or "none"."""
        if self._memory:
            return "memory"
        if self._environ.get(ENV_TOKEN, "").strip():
            return "environment"
        if self._file():
            return "file"
        return "none"

    def token(self) -> Optional[str]:
        if self._memory:
            return self._memory
        value = self._environ.get(ENV_TOKEN, "").strip()
        if value:
            return value
        path = self._file()
        if path:
            return read_token_file(path)
        return None


def read_token_file(path: str) -> Optional[str]:
    """First non-empty line of the file. Raises ValueError when others can read the file (POSIX)."""
    if os.name == "posix":
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            raise ValueError(f"The token file {path} is readable by other users; run: chmod 600 {path}")
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#"):
                return line
    return None
