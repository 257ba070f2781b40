"""Connection settings of the module: endpoint history, TLS rule, consent keys, token sources (no Qt)."""

import os

import pytest

from _viewer_paths import use_module_dir

use_module_dir()

from SegCamLib import settings as s  # noqa: E402


def make(environ=None, values=None):
    store = s.MemoryStore(values)
    return s.SegCamSettings(store, environ or {}), store


@pytest.mark.parametrize(
    "text, endpoint",
    [
        ("", "127.0.0.1:5055"),
        ("localhost", "localhost:5055"),
        ("http://gpu-server:6000/", "gpu-server:6000"),
        ("grpc://10.0.0.5:7000/segcam", "10.0.0.5:7000"),
        ("  server.example.org:443 ", "server.example.org:443"),
        ("[::1]:5055", "[::1]:5055"),
        ("::1", "[::1]:5055"),
    ],
)
def test_endpoints_are_normalised_to_host_and_port(text, endpoint):
    assert s.normalize_endpoint(text)[0] == endpoint


def test_bind_address_becomes_loopback_with_a_note():
    endpoint, notes = s.normalize_endpoint("0.0.0.0:5055")
    assert endpoint == "127.0.0.1:5055"
    assert any("0.0.0.0" in note for note in notes)
    assert s.normalize_endpoint("[::]:6000")[0] == "[::1]:6000"
    assert s.normalize_endpoint("https://host:1")[1]  # the stripped scheme is mentioned too


@pytest.mark.parametrize("bad", ["host:http", "host:0", "host:70000"])
def test_invalid_ports_are_refused(bad):
    with pytest.raises(ValueError):
        s.normalize_endpoint(bad)


@pytest.mark.parametrize(
    "endpoint, loopback",
    [
        ("127.0.0.1:5055", True),
        ("127.8.9.10:1", True),
        ("[::1]:5055", True),
        ("localhost:5055", True),
        ("10.0.0.1:5055", False),
        ("gpu.hospital.org:443", False),
        ("[2001:db8::1]:5055", False),
        ("localhost.evil.com:5055", False),
    ],
)
def test_loopback_detection(endpoint, loopback):
    assert s.is_loopback(endpoint) is loopback


def test_history_keeps_the_last_ten_most_recent_first_without_duplicates():
    settings, store = make()
    for i in range(12):
        settings.remember_endpoint(f"host{i}:5055")
    settings.remember_endpoint("host5:5055")
    history = settings.endpoint_history()
    assert len(history) == s.HISTORY_SIZE
    assert history[0] == "host5:5055"
    assert history.count("host5:5055") == 1
    assert "host0:5055" not in history and "host1:5055" not in history
    assert settings.default_endpoint() == "host5:5055"


def test_history_survives_a_corrupt_value():
    settings, _ = make(values={s.KEY_HISTORY: "{not json"})
    assert settings.endpoint_history() == []
    assert settings.default_endpoint() == s.DEFAULT_ENDPOINT


def test_environment_pins_endpoint_and_ca_file():
    settings, _ = make({s.ENV_ENDPOINT: "http://0.0.0.0:6000", s.ENV_CA_FILE: "/etc/ssl/hospital.pem"},
                       {s.KEY_CA_FILE: "/home/me/other.pem"})
    assert settings.pinned_endpoint() == "127.0.0.1:6000"
    assert settings.default_endpoint() == "127.0.0.1:6000"
    assert settings.ca_file() == "/etc/ssl/hospital.pem"
    assert settings.ca_file_pinned()
    unpinned, _ = make(values={s.KEY_CA_FILE: "/home/me/other.pem"})
    assert unpinned.pinned_endpoint() is None
    assert unpinned.ca_file() == "/home/me/other.pem" and not unpinned.ca_file_pinned()


def test_tls_everywhere_but_loopback_unless_opted_in_per_endpoint():
    settings, _ = make()
    assert not settings.uses_tls("127.0.0.1:5055")
    assert settings.uses_tls("gpu:5055")
    settings.set_plaintext_allowed("gpu:5055", True)
    assert not settings.uses_tls("gpu:5055")
    assert settings.uses_tls("other:5055")
    settings.set_plaintext_allowed("gpu:5055", False)
    assert settings.uses_tls("gpu:5055")


def test_consent_is_per_endpoint_and_tls_mode_and_never_needed_on_loopback():
    settings, store = make()
    assert not settings.needs_consent("127.0.0.1:5055")
    assert settings.needs_consent("gpu:5055")
    settings.give_consent("gpu:5055", tls=True)
    assert not settings.needs_consent("gpu:5055")
    assert settings.needs_consent("gpu:6000")  # another server asks again
    settings.set_plaintext_allowed("gpu:5055", True)
    assert settings.needs_consent("gpu:5055")  # the same server without TLS asks again
    assert all("/" not in key[len(s.CONSENT_GROUP):] for key in store.values if key.startswith(s.CONSENT_GROUP))
    settings.revoke_consents()
    assert not settings.has_consent("gpu:5055", True)


def test_consent_text_says_what_goes_where_and_how():
    text = s.consent_text("gpu.hospital.org:443", tls=False)
    assert "gpu.hospital.org:443" in text
    assert "voxels" in text and "segment" in text
    assert "NOT encrypted" in text
    assert "No DICOM header" in text
    assert "encrypted (TLS)" in s.consent_text("gpu:443", tls=True)


def test_compute_timeout_falls_back_on_bad_values():
    assert make()[0].compute_timeout() == s.DEFAULT_COMPUTE_TIMEOUT_S
    assert make(values={s.KEY_TIMEOUT: "120"})[0].compute_timeout() == 120.0
    assert make(values={s.KEY_TIMEOUT: "soon"})[0].compute_timeout() == s.DEFAULT_COMPUTE_TIMEOUT_S
    assert make(values={s.KEY_TIMEOUT: -5})[0].compute_timeout() == s.DEFAULT_COMPUTE_TIMEOUT_S


def test_token_order_is_memory_then_environment_then_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("# comment\n\n  file-token  \n")
    os.chmod(token_file, 0o600)
    settings, store = make({s.ENV_TOKEN_FILE: str(token_file)})
    tokens = s.TokenSource(settings)
    assert (tokens.source(), tokens.token()) == ("file", "file-token")
    tokens_env = s.TokenSource(settings, environ={s.ENV_TOKEN: "env-token", s.ENV_TOKEN_FILE: str(token_file)})
    assert (tokens_env.source(), tokens_env.token()) == ("environment", "env-token")
    tokens_env.set("typed-token")
    assert (tokens_env.source(), tokens_env.token()) == ("memory", "typed-token")
    tokens_env.clear()
    assert tokens_env.token() == "env-token"
    assert s.TokenSource(make()[0]).token() is None


def test_the_token_is_never_stored_or_shown(tmp_path):
    settings, store = make()
    tokens = s.TokenSource(settings)
    tokens.set("s3cret-value")
    settings.remember_endpoint("gpu:5055")
    settings.give_consent("gpu:5055", True)
    assert "s3cret-value" not in repr(tokens)
    assert all("s3cret-value" not in str(value) for value in store.values.values())


def test_token_file_readable_by_others_is_refused(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("t\n")
    os.chmod(token_file, 0o644)
    if os.name != "posix":
        pytest.skip("permission bits are POSIX only")
    with pytest.raises(ValueError, match="chmod 600"):
        s.read_token_file(str(token_file))


def test_token_file_path_may_come_from_settings(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-settings\n")
    os.chmod(token_file, 0o600)
    settings, _ = make(values={s.KEY_TOKEN_FILE: str(token_file)})
    assert s.TokenSource(settings, environ={}).token() == "from-settings"


def test_forgetting_remote_choices_clears_consents_and_plaintext_opt_ins():
    settings, store = make()
    settings.remember_endpoint("gpu:5055")
    settings.give_consent("gpu:5055", True)
    settings.set_plaintext_allowed("lab:5055", True)
    settings.forget_remote_choices()
    assert not settings.has_consent("gpu:5055", True)
    assert settings.uses_tls("lab:5055")
    assert settings.endpoint_history() == ["gpu:5055"]  # the history stays


def test_plaintext_warning_names_the_server_and_the_risk():
    text = s.plaintext_warning("lab:5055")
    assert "lab:5055" in text and "without encryption" in text
