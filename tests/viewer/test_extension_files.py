"""The Slicer extension's files: root and module CMakeLists, catalog entry, .s4ext, icon, licence, versions."""

import ast
import json
import re
import struct
from pathlib import Path

import pytest

from _viewer_paths import CLIENT_DIR, MANIFEST_DIR, MODULE_DIR, REPO

ROOT_CMAKE = REPO / "CMakeLists.txt"
MODULE_CMAKE = MODULE_DIR / "CMakeLists.txt"
CATALOG = MANIFEST_DIR / "SegCam.json"
S4EXT = MANIFEST_DIR / "SegCam.s4ext"
VERSION = "0.4.0"

# Keys of Slicer's catalog-entry schemas v1.0.0-v1.0.2 (Slicer/Slicer: Schemas/), which allow no others.
CATALOG_KEYS = {"$schema", "category", "scm_url", "scm_revision", "scm_type", "build_dependencies",
                "build_subdirectory", "enabled", "tier", "dicom_support_rule"}
CATALOG_REQUIRED = {"$schema", "category", "scm_url"}
KNOWN_CATEGORIES = {"Segmentation", "Quantification", "Remote", "Registration", "Filtering", "Informatics",
                    "Utilities", "Examples", "IGT", "Diffusion", "Converters", "Shape Analysis"}
S4EXT_REQUIRED = {"scm", "scmurl", "scmrevision", "homepage", "category"}
S4EXT_KEYS = S4EXT_REQUIRED | {"depends", "recommends", "build_subdirectory", "contributors", "iconurl",
                               "screenshoturls", "description", "status", "tier", "enabled",
                               "dicom_support_rule", "keywords"}


def cmake_text(path: Path) -> str:
    return "\n".join(line.split("#", 1)[0] if not line.lstrip().startswith("set(EXTENSION_") else line
                     for line in path.read_text(encoding="utf-8").splitlines())


def cmake_sets(path: Path) -> dict:
    values = {}
    for name, quoted, bare in re.findall(r'^\s*set\((\w+)\s+(?:"([^"]*)"|([^)\s]+))\s*\)', cmake_text(path), re.M):
        values[name] = quoted or bare
    return values


def cmake_list(path: Path, name: str) -> list:
    match = re.search(rf"set\({name}\s+(.*?)\)", cmake_text(path), re.S)
    assert match, f"{name} is not set in {path.relative_to(REPO)}"
    module_name = cmake_sets(path).get("MODULE_NAME", "")
    return [item.replace("${MODULE_NAME}", module_name) for item in match.group(1).split()]


# -- root CMakeLists.txt ---------------------------------------------------------------------------------------------


def test_root_cmakelists_has_the_extension_steps_in_order():
    text = cmake_text(ROOT_CMAKE)
    steps = [
        r"cmake_minimum_required\(",
        r"project\(SegCam\)",
        r"set\(EXTENSION_HOMEPAGE ",
        r"set\(EXTENSION_CATEGORY ",
        r"set\(EXTENSION_CONTRIBUTORS ",
        r"set\(EXTENSION_DESCRIPTION ",
        r"set\(EXTENSION_ICONURL ",
        r"set\(EXTENSION_SCREENSHOTURLS ",
        r"set\(EXTENSION_DEPENDS \"NA\"\)",
        r"find_package\(Slicer REQUIRED\)",
        r"include\(\$\{Slicer_USE_FILE\}\)",
        r"add_subdirectory\(src/SlicerSegCam/SegCam\)",
        r"include\(\$\{Slicer_EXTENSION_GENERATE_CONFIG\}\)",
        r"include\(\$\{Slicer_EXTENSION_CPACK\}\)",
    ]
    positions = []
    for step in steps:
        match = re.search(step, text)
        assert match, f"missing: {step}"
        positions.append(match.start())
    assert positions == sorted(positions), "the root CMakeLists.txt steps are out of order"


def test_first_project_name_equals_the_catalog_file_name():
    first = re.search(r"^\s*project\(\s*([A-Za-z0-9_]+)", cmake_text(ROOT_CMAKE), re.M)
    assert first.group(1) == CATALOG.stem == "SegCam"
    assert not CATALOG.stem.startswith("Slicer")


def test_extension_urls_point_into_this_repository():
    values = cmake_sets(ROOT_CMAKE)
    assert values["EXTENSION_HOMEPAGE"] == "https://github.com/segcam/SlicerSegCam"
    prefix = "https://raw.githubusercontent.com/segcam/SlicerSegCam/main/"
    assert values["EXTENSION_ICONURL"].startswith(prefix)
    icon = REPO / values["EXTENSION_ICONURL"][len(prefix):]
    assert icon.is_file(), f"the icon URL names {icon.relative_to(REPO)}, which is not in the repo"
    for url in values["EXTENSION_SCREENSHOTURLS"].split():
        assert url.startswith(prefix) and url.endswith(".png")
        shot = REPO / url[len(prefix):]
        assert shot.is_file(), f"the screenshot URL names {shot.relative_to(REPO)}, which is not in the repo"


def test_icon_is_a_128_pixel_png():
    data = (MODULE_DIR / "Resources" / "Icons" / "SegCam.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (128, 128)


def test_licence_file_at_the_root():
    licence = REPO / "LICENSE"
    assert licence.is_file()
    assert "Apache License" in licence.read_text(encoding="utf-8")[:200]


# -- catalog entry and .s4ext ----------------------------------------------------------------------------------------


def test_catalog_entry_keys_values_and_line_endings():
    raw = CATALOG.read_bytes()
    assert b"\r" not in raw, "the catalog entry must have LF line endings"
    assert raw.endswith(b"\n")
    entry = json.loads(raw)
    assert CATALOG_REQUIRED <= set(entry)
    assert set(entry) <= CATALOG_KEYS
    assert re.fullmatch(
        r"https://raw\.githubusercontent\.com/Slicer/Slicer/main/Schemas/"
        r"slicer-extension-catalog-entry-schema-v1\.0\.[0-2]\.json#",
        entry["$schema"],
    )
    assert entry["category"] in KNOWN_CATEGORIES
    assert entry["category"] == cmake_sets(ROOT_CMAKE)["EXTENSION_CATEGORY"]
    assert re.fullmatch(r"https://github\.com/segcam/SlicerSegCam(\.git)?", entry["scm_url"])
    assert entry.get("build_subdirectory", ".") == "."
    assert isinstance(entry.get("tier", 1), int) and 1 <= entry.get("tier", 1) <= 5
    assert not entry.get("build_dependencies")


def parse_s4ext():
    values = {}
    for line in S4EXT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        assert key not in values, f"{key} is given twice"
        values[key] = value.strip()
    return values


def test_s4ext_has_the_required_keys_and_agrees_with_cmake_and_the_catalog():
    values = parse_s4ext()
    assert S4EXT_REQUIRED <= set(values)
    assert set(values) <= S4EXT_KEYS
    assert values["scm"] == "git"
    cmake = cmake_sets(ROOT_CMAKE)
    assert values["homepage"] == cmake["EXTENSION_HOMEPAGE"]
    assert values["category"] == cmake["EXTENSION_CATEGORY"]
    assert values["contributors"] == cmake["EXTENSION_CONTRIBUTORS"]
    assert values["description"] == cmake["EXTENSION_DESCRIPTION"]
    assert values["iconurl"] == cmake["EXTENSION_ICONURL"]
    assert values.get("screenshoturls", "") == cmake["EXTENSION_SCREENSHOTURLS"]
    assert values["depends"] == cmake["EXTENSION_DEPENDS"]
    catalog = json.loads(CATALOG.read_text(encoding="utf-8"))
    assert values["scmurl"] == catalog["scm_url"]
    assert values["scmrevision"] == catalog["scm_revision"]
    assert values["enabled"] in ("0", "1")


# -- versions --------------------------------------------------------------------------------------------------------


def client_version():
    init = CLIENT_DIR / "__init__.py"
    if not init.exists():
        pytest.skip("segcam_client is not in this checkout yet (written separately): its version is not compared")
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    pytest.fail("segcam_client/__init__.py defines no __version__")


def module_version():
    for node in ast.parse((MODULE_DIR / "SegCam.py").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "PLUGIN_VERSION" for t in node.targets):
            return ast.literal_eval(node.value)
    pytest.fail("SegCam.py defines no PLUGIN_VERSION")


def test_versions_agree_across_extension_files():
    manifest = json.loads((MANIFEST_DIR / "segcam-plugin.json").read_text(encoding="utf-8"))
    s4ext_version = re.search(r"^# SegCam (\d+\.\d+\.\d+)", S4EXT.read_text(encoding="utf-8"), re.M).group(1)
    versions = {
        "manifest": manifest["version"],
        "CMakeLists.txt": cmake_sets(ROOT_CMAKE)["EXTENSION_VERSION"],
        "SegCam.s4ext": s4ext_version,
        "SegCam.py": module_version(),
    }
    assert set(versions.values()) == {VERSION}, versions


def test_client_version_agrees():
    assert client_version() == VERSION


# -- the module's CMakeLists lists every file --------------------------------------------------------------------


IGNORED_NAMES = {"README.md", "CMakeLists.txt"}


def files_on_disk():
    found = set()
    for path in MODULE_DIR.rglob("*"):
        relative = path.relative_to(MODULE_DIR)
        if path.is_dir() or "__pycache__" in relative.parts or path.suffix == ".pyc" or path.name in IGNORED_NAMES:
            continue
        found.add(relative.as_posix())
    return found


def listed():
    return set(cmake_list(MODULE_CMAKE, "MODULE_PYTHON_SCRIPTS")) | set(cmake_list(MODULE_CMAKE, "MODULE_PYTHON_RESOURCES"))


def is_client(path: str) -> bool:
    return path.startswith("segcam_client/")


def test_module_cmakelists_lists_every_module_file_and_nothing_else():
    on_disk = {p for p in files_on_disk() if not is_client(p)}
    entries = {p for p in listed() if not is_client(p)}
    assert sorted(on_disk - entries) == [], "files missing from src/SlicerSegCam/SegCam/CMakeLists.txt"
    assert sorted(entries - on_disk) == [], "CMakeLists.txt lists files that do not exist (configure would fail)"


def test_module_cmakelists_lists_every_client_file_and_nothing_else():
    if not CLIENT_DIR.exists():
        pytest.skip("segcam_client is not in this checkout yet (written separately): its listing is not checked")
    on_disk = {p for p in files_on_disk() if is_client(p)}
    entries = {p for p in listed() if is_client(p)}
    assert sorted(on_disk - entries) == [], "client files missing from the module's CMakeLists.txt"
    assert sorted(entries - on_disk) == [], "the module's CMakeLists.txt lists client files that do not exist"


def test_scripts_are_python_and_resources_are_not():
    scripts = cmake_list(MODULE_CMAKE, "MODULE_PYTHON_SCRIPTS")
    resources = cmake_list(MODULE_CMAKE, "MODULE_PYTHON_RESOURCES")
    assert all(s.endswith(".py") for s in scripts)
    assert not any(r.endswith(".py") for r in resources)
    assert len(scripts) == len(set(scripts)) and len(resources) == len(set(resources))
    assert {"Resources/Icons/SegCam.png", "Resources/UI/SegCam.ui", "Resources/requirements.txt"} <= set(resources)
    for package in {Path(s).parent.as_posix() for s in scripts if "/" in s}:
        assert f"{package}/__init__.py" in scripts, f"{package} is listed without its __init__.py"


def test_module_cmakelists_builds_the_module_with_tests():
    text = cmake_text(MODULE_CMAKE)
    assert re.search(r"slicerMacroBuildScriptedModule\(.*?NAME \$\{MODULE_NAME\}.*?WITH_GENERIC_TESTS.*?\)", text, re.S)
    assert cmake_sets(MODULE_CMAKE)["MODULE_NAME"] == "SegCam"
    testing = re.search(r"if\(BUILD_TESTING\)(.*?)endif\(\)", text, re.S)
    assert testing and "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)" in testing.group(1)
    if (MODULE_DIR / "Testing").exists():
        assert "add_subdirectory(Testing)" in testing.group(1)
        assert "add_subdirectory(Python)" in cmake_text(MODULE_DIR / "Testing" / "CMakeLists.txt")
        assert (MODULE_DIR / "Testing" / "Python" / "CMakeLists.txt").is_file()
