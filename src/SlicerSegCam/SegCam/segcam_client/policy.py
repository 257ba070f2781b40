"""Connection policy: endpoint normalisation, loopback detection, the TLS rule, environment overrides and the
per-endpoint upload consent store (docs/VIEWER.md §4).

Nothing here opens a connection, so the whole policy is unit-tested without a server.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime
import ipaddress
import json
import logging
import os
import re
import tempfile
import threading

from .errors import KIND_INSECURE, InvalidInputError, SegCamError

_LOG = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5055
DEFAULT_ENDPOINT = f"{DEFAULT_HOST}:{DEFAULT_PORT}"

ENV_ENDPOINT = "SEGCAM_ENDPOINT"
ENV_CA_FILE = "SEGCAM_CA_FILE"
ENV_TOKEN = "SEGCAM_TOKEN"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1"}


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """A normalised gRPC endpoint.

    ``scheme`` is the scheme the user pasted ("http", "https") or None; "https" asks for TLS and "http" says the
    server is plaintext. ``notes`` explain what normalisation changed (show them to the user).
    """

    host: str
    port: int
    scheme: str | None = None
    notes: tuple = ()

    @property
    def target(self) -> str:
        """host:port as gRPC takes it (IPv6 literals in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.host)

    def __str__(self) -> str:
        return self.target


def normalize_endpoint(text: str | None, default_port: int = DEFAULT_PORT) -> Endpoint:
    """Parses what a user typed or pasted into an Endpoint.

    Accepts ``host``, ``host:port``, ``[v6]:port``, a bare IPv6 literal, optionally with ``http://`` or
    ``https://`` and a trailing slash. Empty text gives the default 127.0.0.1:5055. The bind-all addresses
    0.0.0.0 and :: become loopback, with a note. Anything else (a path, a user name, another scheme, a bad port)
    raises InvalidInputError naming what is allowed.
    """
    raw = (text or "").strip()
    notes = []
    scheme = None
    if not raw:
        return Endpoint(DEFAULT_HOST, default_port)
    match = _SCHEME.match(raw)
    if match:
        scheme = match.group(1).lower()
        if scheme not in ("http", "https"):
            raise InvalidInputError(f"endpoint '{text}': scheme '{scheme}://' is not allowed; give host:port, "
                                    f"optionally with http:// or https://")
        raw = raw[match.end():]
        notes.append(f"removed '{scheme}://'; the endpoint is {{target}}"
                     + (" and TLS is required" if scheme == "https" else ""))
    raw = raw.rstrip("/")
    if "/" in raw or "@" in raw or "?" in raw or "#" in raw:
        raise InvalidInputError(f"endpoint '{text}': give only host:port (no path, user or query), "
                                f"e.g. {DEFAULT_ENDPOINT}")
    host, port_text = _split_host_port(raw, text)
    if port_text is None:
        port = default_port
    else:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise InvalidInputError(f"endpoint '{text}': port '{port_text}' must be a number from 1 to 65535")
        port = int(port_text)
    if not host:
        raise InvalidInputError(f"endpoint '{text}' has no host; e.g. {DEFAULT_ENDPOINT}")
    if host in _WILDCARD:
        loopback = _WILDCARD[host]
        notes.append(f"{host} is the address a server listens on, not one to connect to; using {loopback}")
        host = loopback
    if not _is_ip(host) and not _HOSTNAME.match(host):
        raise InvalidInputError(f"endpoint '{text}': '{host}' is neither an IP address nor a host name")
    endpoint = Endpoint(host.lower() if not _is_ip(host) else host, port, scheme)
    return dataclasses.replace(endpoint, notes=tuple(n.replace("{target}", endpoint.target) for n in notes))


def _split_host_port(raw: str, original: str) -> tuple:
    if raw.startswith("["):
        close = raw.find("]")
        if close < 0:
            raise InvalidInputError(f"endpoint '{original}': missing ']' after the IPv6 address")
        host, rest = raw[1:close], raw[close + 1:]
        if rest and not rest.startswith(":"):
            raise InvalidInputError(f"endpoint '{original}': expected ':port' after ']'")
        if not _is_ip(host):
            raise InvalidInputError(f"endpoint '{original}': '{host}' in brackets is not an IPv6 address")
        return host, (rest[1:] if rest else None)
    if raw.count(":") > 1:
        if not _is_ip(raw):
            raise InvalidInputError(f"endpoint '{original}': write an IPv6 address with a port as [address]:port")
        return raw, None
    if ":" in raw:
        host, port = raw.split(":", 1)
        return host, port
    return raw, None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 (also IPv4-mapped ::ffff:127.x) and the name localhost."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


@dataclasses.dataclass(frozen=True)
class Transport:
    """What the client will use for an endpoint: TLS or plaintext, and a warning to show (or None)."""

    tls: bool
    warning: str | None = None

    @property
    def mode(self) -> str:
        return "tls" if self.tls else "plaintext"


def choose_transport(endpoint: Endpoint, ca_file: str | None = None,
                     allow_insecure_remote: bool = False) -> Transport:
    """The TLS rule: plaintext on loopback only, unless the user opted in for this endpoint.

    * https:// or a CA file → TLS (also on loopback).
    * loopback → plaintext.
    * elsewhere → TLS; plaintext only with ``allow_insecure_remote`` (a per-endpoint opt-in), with a warning.
      An explicit http:// to a remote host without the opt-in raises SegCamError(kind="insecure-endpoint").
    """
    if endpoint.scheme == "https" or ca_file:
        return Transport(tls=True)
    if endpoint.is_loopback:
        return Transport(tls=False)
    if allow_insecure_remote:
        return Transport(tls=False, warning=(
            f"plaintext connection to {endpoint.target}: images, geometry and masks travel unencrypted; "
            f"use TLS unless this network is trusted"))
    if endpoint.scheme == "http":
        raise SegCamError(KIND_INSECURE, (
            f"refusing plaintext (http://) to {endpoint.target}: SegCam sends images unencrypted only to "
            f"loopback (127.0.0.0/8, ::1, localhost). Enable TLS on the server and connect with https:// "
            f"(and a CA file for a hospital CA), or opt in to plaintext for this endpoint "
            f"(allow_insecure_remote=True)."))
    return Transport(tls=True)


# ---- environment overrides --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ConnectionSettings:
    """Endpoint, CA file and token after applying the environment; ``pinned`` names the env-set ones."""

    endpoint: Endpoint
    ca_file: str | None = None
    token: str | None = dataclasses.field(default=None, repr=False)
    pinned: frozenset = frozenset()

    def is_pinned(self, name: str) -> bool:
        """True when ``name`` ("endpoint", "ca_file", "token") came from the environment (show it read-only)."""
        return name in self.pinned


def resolve_settings(endpoint: str | None = None, ca_file: str | None = None, token: str | None = None,
                     environ=None) -> ConnectionSettings:
    """Applies SEGCAM_ENDPOINT, SEGCAM_CA_FILE and SEGCAM_TOKEN, which override the given values.

    IT departments pin the server this way (docs/VIEWER.md §4); the UI shows pinned values read-only.
    Empty variables count as unset.
    """
    env = os.environ if environ is None else environ
    given = {"endpoint": endpoint, "ca_file": ca_file, "token": token}
    pinned = set()
    for name, variable in (("endpoint", ENV_ENDPOINT), ("ca_file", ENV_CA_FILE), ("token", ENV_TOKEN)):
        value = env.get(variable, "").strip()
        if value:
            given[name] = value
            pinned.add(name)
    endpoint, ca_file, token = given["endpoint"], given["ca_file"], given["token"]
    if ca_file and not os.path.isfile(ca_file):
        source = f"${ENV_CA_FILE}" if "ca_file" in pinned else "the CA file setting"
        raise InvalidInputError(f"{source}: '{ca_file}' is not a readable file (a PEM bundle of CA certificates)")
    return ConnectionSettings(normalize_endpoint(endpoint), ca_file or None, token or None, frozenset(pinned))


def read_token_file(path: str) -> str:
    """The token in a text file (surrounding whitespace removed); InvalidInputError for a missing or empty file."""
    try:
        with open(path, encoding="utf-8") as handle:
            token = handle.read().strip()
    except OSError as exc:
        raise InvalidInputError(f"token file '{path}' cannot be read: {exc.strerror}") from exc
    if not token:
        raise InvalidInputError(f"token file '{path}' is empty; it must hold the server's API key")
    if any(c.isspace() for c in token):
        raise InvalidInputError(f"token file '{path}' must hold one token without spaces or line breaks")
    return token


# ---- consent ------------------------------------------------------------------------------------------------------

def consent_key(endpoint: Endpoint | str, tls: bool) -> str:
    """The store key: normalised host:port plus the transport, e.g. "10.0.0.5:5055|tls"."""
    target = endpoint.target if isinstance(endpoint, Endpoint) else normalize_endpoint(endpoint).target
    return f"{target}|{'tls' if tls else 'plaintext'}"


def needs_consent(endpoint: Endpoint, tls: bool, store: "ConsentStore") -> bool:
    """True before the first upload to a non-loopback endpoint in this TLS mode (loopback never asks)."""
    if endpoint.is_loopback:
        return False
    return not store.has_consent(endpoint, tls)


def consent_text(endpoint: Endpoint, tls: bool) -> str:
    """What the user agrees to: what goes out, where to, and whether it is encrypted."""
    transport = ("encrypted with TLS" if tls else
                 "UNENCRYPTED (plaintext): anyone on the network path can read it")
    return (f"SegCam will send image data to the server {endpoint.target}, {transport}.\n"
            f"Sent: the voxel values of the selected volume, its geometry (size, spacing, origin, direction) "
            f"and the selected region (mask or box). Not sent: DICOM headers, node or patient names; volumes "
            f"are identified by an opaque id.\n"
            f"The server keeps uploaded volumes in memory for a limited time. Continue?")


class ConsentStore(abc.ABC):
    """Remembers upload consent per endpoint and TLS mode (never one key for all servers)."""

    @abc.abstractmethod
    def _get(self, key: str) -> dict | None: ...

    @abc.abstractmethod
    def _set(self, key: str, record: dict | None) -> None: ...

    def has_consent(self, endpoint: Endpoint | str, tls: bool) -> bool:
        return self._get(consent_key(endpoint, tls)) is not None

    def grant(self, endpoint: Endpoint | str, tls: bool) -> None:
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self._set(consent_key(endpoint, tls), {"granted_utc": now})

    def revoke(self, endpoint: Endpoint | str, tls: bool) -> None:
        self._set(consent_key(endpoint, tls), None)


class MemoryConsentStore(ConsentStore):
    """Consent for this process only."""

    def __init__(self) -> None:
        self._records: dict = {}
        self._lock = threading.Lock()

    def _get(self, key: str) -> dict | None:
        with self._lock:
            return self._records.get(key)

    def _set(self, key: str, record: dict | None) -> None:
        with self._lock:
            if record is None:
                self._records.pop(key, None)
            else:
                self._records[key] = record

    def keys(self) -> list:
        with self._lock:
            return sorted(self._records)


class JsonFileConsentStore(ConsentStore):
    """Consent kept in a JSON file ({"version": 1, "consents": {key: {"granted_utc": ...}}}), written atomically.

    A file that cannot be parsed counts as no consent (the user is asked again) and is replaced on the next
    grant; the problem is logged.
    """

    VERSION = 1

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _load(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as handle:
                document = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            _LOG.warning("consent file %s is unreadable (%s); treating it as empty", self.path, exc)
            return {}
        if not isinstance(document, dict) or document.get("version") != self.VERSION:
            _LOG.warning("consent file %s has an unknown format; treating it as empty", self.path)
            return {}
        consents = document.get("consents")
        if not isinstance(consents, dict):
            _LOG.warning("consent file %s has no 'consents' object; treating it as empty", self.path)
            return {}
        return {k: v for k, v in consents.items() if isinstance(v, dict)}

    def _get(self, key: str) -> dict | None:
        with self._lock:
            return self._load().get(key)

    def _set(self, key: str, record: dict | None) -> None:
        with self._lock:
            consents = self._load()
            if record is None:
                consents.pop(key, None)
            else:
                consents[key] = record
            folder = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(folder, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=".segcam-consent-", suffix=".json", dir=folder)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump({"version": self.VERSION, "consents": consents}, handle, indent=2, sort_keys=True)
                    handle.write("\n")
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise

    def keys(self) -> list:
        with self._lock:
            return sorted(self._load())
