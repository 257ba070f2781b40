"""Connection policy: endpoint normalisation, loopback, the TLS rule, env overrides, per-endpoint consent."""

import json
import os

import pytest

from segcam_client import InvalidInputError, SegCamClient, SegCamError
from segcam_client.policy import (DEFAULT_ENDPOINT, JsonFileConsentStore, MemoryConsentStore, choose_transport,
                                  consent_key, consent_text, is_loopback, needs_consent, normalize_endpoint,
                                  read_token_file, resolve_settings)


@pytest.mark.parametrize("text, target, scheme", [
    ("", "127.0.0.1:5055", None),
    (None, "127.0.0.1:5055", None),
    ("127.0.0.1:5055", "127.0.0.1:5055", None),
    ("  localhost  ", "localhost:5055", None),
    ("http://127.0.0.1:6000/", "127.0.0.1:6000", "http"),
    ("HTTPS://GPU-Server.example.org:443/", "gpu-server.example.org:443", "https"),
    ("gpu01", "gpu01:5055", None),
    ("10.1.2.3:7000", "10.1.2.3:7000", None),
    ("[::1]:5055", "[::1]:5055", None),
    ("::1", "[::1]:5055", None),
    ("[fe80::1]", "[fe80::1]:5055", None),
])
def test_normalisation(text, target, scheme):
    endpoint = normalize_endpoint(text)
    assert endpoint.target == target and endpoint.scheme == scheme


def test_bind_all_addresses_become_loopback_with_a_note():
    endpoint = normalize_endpoint("http://0.0.0.0:5055")
    assert endpoint.target == "127.0.0.1:5055"
    assert any("0.0.0.0 is the address a server listens on" in n for n in endpoint.notes)
    assert any("removed 'http://'" in n for n in endpoint.notes)
    assert normalize_endpoint("[::]:5055").target == "[::1]:5055"
    assert normalize_endpoint("127.0.0.1:5055").notes == ()


@pytest.mark.parametrize("text, message", [
    ("grpc://host:5055", "scheme 'grpc://' is not allowed"),
    ("host:5055/segcam", "only host:port"),
    ("user@host:5055", "only host:port"),
    ("host:0", "1 to 65535"),
    ("host:70000", "1 to 65535"),
    ("host:abc", "1 to 65535"),
    (":5055", "no host"),
    ("fe80::1:5055:x", "IPv6"),
    ("[::1", "missing ']'"),
    ("bad_host!:5055", "neither an IP address nor a host name"),
])
def test_bad_endpoints_say_what_is_allowed(text, message):
    with pytest.raises(InvalidInputError, match=message):
        normalize_endpoint(text)


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("localhost", True), ("LOCALHOST", True),
    ("[::1]", True), ("::ffff:127.0.0.1", True), ("128.0.0.1", False), ("10.0.0.1", False), ("0.0.0.0", False),
    ("localhost.example.org", False), ("gpu01", False), ("::2", False),
])
def test_loopback_detection(host, loopback):
    assert is_loopback(host) is loopback


def test_tls_rule():
    local = normalize_endpoint("127.0.0.1:5055")
    remote = normalize_endpoint("10.0.0.5:5055")
    assert choose_transport(local).tls is False
    assert choose_transport(local, ca_file="ca.pem").tls is True
    assert choose_transport(normalize_endpoint("https://localhost:5055")).tls is True
    assert choose_transport(remote).tls is True  # remote defaults to TLS
    opted_in = choose_transport(remote, allow_insecure_remote=True)
    assert opted_in.tls is False and "unencrypted" in opted_in.warning
    with pytest.raises(SegCamError, match="refusing plaintext .*10.0.0.5:5055.*allow_insecure_remote") as info:
        choose_transport(normalize_endpoint("http://10.0.0.5:5055"))
    assert info.value.kind == "insecure-endpoint"
    assert choose_transport(normalize_endpoint("http://10.0.0.5:5055"), allow_insecure_remote=True).tls is False
    assert choose_transport(normalize_endpoint("http://localhost:5055")).tls is False


def test_client_refuses_remote_plaintext_without_opt_in():
    with pytest.raises(SegCamError, match="refusing plaintext"):
        SegCamClient("http://192.0.2.10:5055")
    with SegCamClient("http://192.0.2.10:5055", allow_insecure_remote=True) as client:
        assert client.transport.mode == "plaintext"
    with SegCamClient("192.0.2.10:5055") as client:
        assert client.transport.mode == "tls"
    with SegCamClient("0.0.0.0:5055") as client:
        assert client.endpoint.target == "127.0.0.1:5055" and client.transport.mode == "plaintext"


def test_client_rejects_bad_tokens_and_ca_files(tmp_path):
    with pytest.raises(InvalidInputError, match="printable ASCII"):
        SegCamClient(token="two words")
    with pytest.raises(InvalidInputError, match="CA file .* cannot be read"):
        SegCamClient("127.0.0.1:5055", ca_file=str(tmp_path / "missing.pem"))


def test_env_overrides_pin_endpoint_ca_and_token(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {"SEGCAM_ENDPOINT": "https://segcam.hospital.example:5055/", "SEGCAM_CA_FILE": str(ca),
           "SEGCAM_TOKEN": "t0ken"}
    settings = resolve_settings("127.0.0.1:9999", None, "mine", environ=env)
    assert settings.endpoint.target == "segcam.hospital.example:5055" and settings.endpoint.scheme == "https"
    assert settings.ca_file == str(ca) and settings.token == "t0ken"
    assert settings.pinned == {"endpoint", "ca_file", "token"} and settings.is_pinned("endpoint")
    assert "t0ken" not in repr(settings)  # the token never shows up in logs
    plain = resolve_settings("10.0.0.1:6000", None, "mine", environ={"SEGCAM_ENDPOINT": "  "})
    assert plain.endpoint.target == "10.0.0.1:6000" and plain.token == "mine" and not plain.pinned
    default = resolve_settings(environ={})
    assert default.endpoint.target == DEFAULT_ENDPOINT
    with pytest.raises(InvalidInputError, match=r"\$SEGCAM_CA_FILE: .* is not a readable file"):
        resolve_settings(environ={"SEGCAM_CA_FILE": str(tmp_path / "nope.pem")})


def test_client_from_environment_uses_the_pinned_endpoint():
    with SegCamClient.from_environment("127.0.0.1:1", environ={"SEGCAM_ENDPOINT": "localhost:6001"}) as client:
        assert client.endpoint.target == "localhost:6001"


def test_token_file(tmp_path):
    good = tmp_path / "token"
    good.write_text("abc123\n")
    assert read_token_file(str(good)) == "abc123"
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(InvalidInputError, match="is empty"):
        read_token_file(str(empty))
    with pytest.raises(InvalidInputError, match="cannot be read"):
        read_token_file(str(tmp_path / "missing"))


@pytest.mark.parametrize("make_store", [lambda tmp: MemoryConsentStore(),
                                        lambda tmp: JsonFileConsentStore(str(tmp / "sub" / "consent.json"))])
def test_consent_is_per_endpoint_and_tls_mode(tmp_path, make_store):
    store = make_store(tmp_path)
    a = normalize_endpoint("10.0.0.5:5055")
    b = normalize_endpoint("10.0.0.6:5055")
    assert needs_consent(a, True, store) and needs_consent(b, True, store)
    store.grant(a, True)
    assert not needs_consent(a, True, store)
    assert needs_consent(a, False, store)  # the same server in plaintext asks again
    assert needs_consent(b, True, store)  # another server asks again
    assert store.has_consent("http://10.0.0.5:5055/", True)  # keys are normalised
    assert not needs_consent(normalize_endpoint("127.0.0.1:5055"), False, store)  # loopback never asks
    store.revoke(a, True)
    assert needs_consent(a, True, store)
    assert consent_key(a, False) == "10.0.0.5:5055|plaintext"


def test_json_consent_store_persists_and_survives_corruption(tmp_path, caplog):
    path = tmp_path / "consent.json"
    endpoint = normalize_endpoint("gpu01:5055")
    JsonFileConsentStore(str(path)).grant(endpoint, True)
    document = json.loads(path.read_text())
    assert document["version"] == 1 and "gpu01:5055|tls" in document["consents"]
    assert JsonFileConsentStore(str(path)).has_consent(endpoint, True)
    path.write_text("{not json")
    store = JsonFileConsentStore(str(path))
    assert not store.has_consent(endpoint, True)  # unreadable → ask again
    assert "unreadable" in caplog.text
    store.grant(endpoint, False)
    assert json.loads(path.read_text())["consents"].keys() == {"gpu01:5055|plaintext"}
    assert [p for p in os.listdir(tmp_path) if p.startswith(".segcam-consent-")] == []


def test_consent_text_says_what_where_and_tls():
    text = consent_text(normalize_endpoint("gpu01:5055"), tls=False)
    assert "gpu01:5055" in text and "UNENCRYPTED" in text
    assert "voxel values" in text and "geometry" in text and "mask" in text and "DICOM headers" in text
    assert "encrypted with TLS" in consent_text(normalize_endpoint("gpu01:5055"), tls=True)
