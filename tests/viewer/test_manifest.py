"""plugin-manifest/segcam-plugin.json against its schema, the server's method ids, the proto and the module."""

import copy
import json
import re

import jsonschema
import pytest

from _viewer_paths import CAM_METHODS_DIR, CLIENT_DIR, MANIFEST_DIR, MODULE_DIR, PROTO, REPO

MANIFEST = MANIFEST_DIR / "segcam-plugin.json"
SCHEMA = MANIFEST_DIR / "segcam-plugin.schema.json"


@pytest.fixture(scope="module")
def schema():
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest():
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def errors(schema, document):
    return list(jsonschema.Draft7Validator(schema).iter_errors(document))


def test_schema_is_draft_07_and_closed_at_the_top(schema):
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False


def test_manifest_validates(schema, manifest):
    assert errors(schema, manifest) == []


def test_every_object_in_the_schema_is_closed(schema):
    """Tightened sub-objects: every object schema with properties forbids unknown keys."""
    open_objects = []

    def walk(node, path):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and node.get("additionalProperties") is not False:
                open_objects.append(path)
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}/{i}")

    walk(schema, "#")
    assert open_objects == []


def set_path(document, path, value):
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value


BROKEN = [
    ("patient metadata sent", ("dataPolicy", "sendsPatientMetadata"), True),
    ("unknown top-level key", ("surprise",), 1),
    ("id not reverse-DNS", ("id",), "SegCam Viewer"),
    ("version not SemVer", ("version",), "0.4"),
    ("method id with capitals", ("capabilities", "methods", 0), "Seg-Grad-CAM"),
    ("endpoint with a scheme", ("backend", "defaultEndpoint"), "http://127.0.0.1:5055"),
    ("protocol version without major", ("backend", "protocolVersion", "major"), KeyError),
    ("protocol other than grpc", ("backend", "protocol"), "rest"),
    ("unknown auth scheme", ("backend", "auth", 1), "basic"),
    ("remote plaintext by default", ("backend", "transport", "remote"), "plaintext"),
    ("unknown host application", ("hosts", 0, "application"), "paraview"),
    ("extra key in a host", ("hosts", 0, "minSlicer"), "5.6"),
    ("global consent", ("dataPolicy", "consent"), "global"),
    ("token persisted", ("settings", 2, "persisted"), True),
    ("package without spec", ("requirements", "packages", 0, "spec"), KeyError),
    ("pinned upper bound typo", ("requirements", "packages", 0, "spec"), "grpcio>=1.51"),
    ("streaming mode", ("capabilities", "streaming"), "chunks"),
    ("no methods", ("capabilities", "methods"), []),
    ("duplicate methods", ("capabilities", "methods"), ["seg-grad-cam", "seg-grad-cam"]),
    ("absolute module path", ("entryPoints", "slicerModule", "path"), "/opt/SegCam.py"),
    ("empty entry points", ("entryPoints",), {}),
    ("message limit too small", ("backend", "maxMessageBytes"), 100),
]


@pytest.mark.parametrize("label, path, value", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_manifests_are_rejected(schema, manifest, label, path, value):
    document = copy.deepcopy(manifest)
    set_path(document, path, value)
    assert errors(schema, document), f"the schema accepted a manifest with {label}"


def test_the_secret_setting_is_the_token_and_is_not_persisted(manifest):
    secrets = [s for s in manifest["settings"] if s["type"] == "secret"]
    assert [s["key"] for s in secrets] == ["token"]
    assert secrets[0]["persisted"] is False and secrets[0]["adminOverrideEnv"] == "SEGCAM_TOKEN"
    envs = {s["key"]: s.get("adminOverrideEnv") for s in manifest["settings"]}
    assert envs["endpoint"] == "SEGCAM_ENDPOINT" and envs["caFile"] == "SEGCAM_CA_FILE"


def cam_method_ids():
    source = CAM_METHODS_DIR / "CamMethod.cs"
    if not source.exists():
        pytest.skip(f"{source.relative_to(REPO)} is absent: no C# method table to compare with")
    ids = re.findall(r'\(\s*CamMethod\.\w+\s*,\s*"([a-z0-9+-]+)"\s*\)', source.read_text(encoding="utf-8"))
    assert ids, "the CamMethodNames table was not found in CamMethod.cs"
    return ids


def test_methods_are_server_method_ids(manifest):
    ids = cam_method_ids()
    methods = manifest["capabilities"]["methods"]
    assert set(methods) <= set(ids), f"not served: {sorted(set(methods) - set(ids))}"
    assert manifest["capabilities"]["defaultMethod"] in methods
    assert {"seg-grad-cam", "seg-hires-grad-cam"} <= set(methods)


def test_module_method_labels_cover_the_manifest(manifest):
    source = (MODULE_DIR / "SegCam.py").read_text(encoding="utf-8")
    block = source.split("METHOD_LABELS = {", 1)[1].split("}", 1)[0]
    labelled = set(re.findall(r'"([a-z0-9+-]+)":', block))
    assert set(manifest["capabilities"]["methods"]) == labelled


def test_backend_matches_the_proto(manifest):
    proto = PROTO.read_text(encoding="utf-8")
    backend = manifest["backend"]
    assert re.search(rf"^package {re.escape(backend['protoPackage'])};", proto, re.M)
    for service in backend["services"]:
        assert re.search(rf"^service {service}\s*\{{", proto, re.M)
    assert (REPO / backend["protoFile"]) == PROTO
    assert backend["protocolVersion"]["major"] == int(backend["protoPackage"].rsplit(".v", 1)[1])
    assert backend["maxMessageBytes"] == 4 * 1024 * 1024
    assert backend["defaultEndpoint"] == "127.0.0.1:5055"
    pixel_set = proto.split("message PixelSet {", 1)[1].split("\n}", 1)[0]
    kinds = re.findall(r"^\s+\w+ (\w+) = \d+;", pixel_set, re.M)
    assert kinds == manifest["capabilities"]["inputs"]["pixelSets"]


def test_requirements_match_the_module(manifest):
    lines = [
        line.strip()
        for line in (MODULE_DIR / "Resources" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    declared = [p["name"] + p["spec"] for p in manifest["requirements"]["packages"] if not p.get("providedByHost")]
    assert declared == lines


def test_entry_points_exist(manifest):
    module = manifest["entryPoints"]["slicerModule"]
    assert (REPO / module["path"]).is_file()
    assert module["name"] == "SegCam"
    client = manifest["entryPoints"]["pythonClient"]
    assert client["package"] == "segcam_client"
    if not CLIENT_DIR.exists():
        pytest.skip("segcam_client is not in this checkout yet (written separately)")
    assert (REPO / client["path"]) == CLIENT_DIR
    init = (CLIENT_DIR / "__init__.py").read_text(encoding="utf-8")
    for name in client["api"]:
        assert re.search(rf"\b{name}\b", init), f"segcam_client does not export {name}"
