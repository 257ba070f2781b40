"""Static checks of SegCam.py and SegCamLib: compiles, imports nothing heavy at load time, matches its .ui."""

import ast
import py_compile
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from _viewer_paths import MODULE_DIR

SEGCAM = MODULE_DIR / "SegCam.py"
LIB = MODULE_DIR / "SegCamLib"
UI = MODULE_DIR / "Resources" / "UI" / "SegCam.ui"
SOURCES = [SEGCAM] + sorted(LIB.glob("*.py"))
LAZY_ONLY = ("grpc", "segcam_client", "google.protobuf", "google")
HOST_ONLY = ("slicer", "qt", "vtk", "ctk")


def tree(path):
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def load_time_nodes(module):
    """Nodes that run when the module is imported: everything outside function bodies (class bodies run)."""
    stack = list(module.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            stack.extend(getattr(node, "decorator_list", []) + args.defaults + [d for d in args.kw_defaults if d])
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(nodes):
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, node.module


def matches(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_compiles_and_parses_as_python_3_9(path, tmp_path):
    py_compile.compile(str(path), cfile=str(tmp_path / "out.pyc"), doraise=True)
    ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 9))  # Slicer 5.6/5.8 ship Python 3.9


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_no_load_time_import_of_grpc_or_the_client(path):
    offenders = [(node.lineno, name) for node, name in imported_modules(load_time_nodes(tree(path)))
                 if matches(name, LAZY_ONLY)]
    assert offenders == [], f"{path.name} imports these when Slicer loads it: {offenders}"


def test_the_lazy_imports_exist_inside_methods():
    """The check above must not pass because the module forgot the client altogether."""
    all_imports = {name for _, name in imported_modules(ast.walk(tree(SEGCAM)))}
    assert "segcam_client" in all_imports
    assert any(name.startswith("segcam_client") for name in all_imports)


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_no_pip_or_install_call_at_load_time(path):
    bad = []
    for node in load_time_nodes(tree(path)):
        if isinstance(node, ast.Call):
            text = ast.unparse(node.func)
            if re.search(r"pip_install|pip_ensure|ensure_dependencies|ensureDependencies|subprocess|os\.system",
                         text):
                bad.append((node.lineno, text))
    assert bad == []


@pytest.mark.parametrize("path", sorted(LIB.glob("*.py")), ids=lambda p: p.name)
def test_segcamlib_imports_no_slicer_qt_or_vtk_at_load_time(path):
    offenders = [(node.lineno, name) for node, name in imported_modules(load_time_nodes(tree(path)))
                 if matches(name, HOST_ONLY)]
    assert offenders == [], f"{path.name} would not import outside Slicer: {offenders}"


def test_every_segcamlib_module_imports_in_plain_python():
    names = [p.stem for p in sorted(LIB.glob("*.py")) if p.stem != "__init__"]
    code = "import importlib, sys\n" + "".join(f"importlib.import_module('SegCamLib.{n}')\n" for n in names)
    code += "assert not any(m in sys.modules for m in ('slicer', 'qt', 'vtk', 'grpc', 'segcam_client')), sorted(sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=MODULE_DIR, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_no_swallowed_exceptions(path):
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.ExceptHandler):
            assert node.type is not None, f"{path.name}:{node.lineno}: bare except"
            body = node.body
            assert not (len(body) == 1 and isinstance(body[0], ast.Pass)), f"{path.name}:{node.lineno}: except: pass"


# -- module structure ---------------------------------------------------------------------------------------------


def classes():
    return {node.name: node for node in tree(SEGCAM).body if isinstance(node, ast.ClassDef)}


def methods(cls):
    return {node.name for node in cls.body if isinstance(node, ast.FunctionDef)}


def test_the_five_module_classes_exist_with_their_bases():
    found = classes()
    bases = {name: {ast.unparse(b) for b in found[name].bases} for name in
             ("SegCam", "SegCamWidget", "SegCamLogic", "SegCamTest")}
    assert "ScriptedLoadableModule" in bases["SegCam"]
    assert "ScriptedLoadableModuleWidget" in bases["SegCamWidget"]
    assert "ScriptedLoadableModuleLogic" in bases["SegCamLogic"]
    assert "ScriptedLoadableModuleTest" in bases["SegCamTest"]
    decorators = [ast.unparse(d) for d in found["SegCamParameterNode"].decorator_list]
    assert decorators == ["parameterNodeWrapper"]


def test_logic_offers_the_console_api():
    logic = methods(classes()["SegCamLogic"])
    expected = {"ensureDependencies", "connect", "exportInputs", "startJob", "applyMessage", "createHeatmapNode",
                "configureDisplay", "showSingle", "showCompare", "save", "cancel", "waitForRun"}
    assert expected <= logic, sorted(expected - logic)


def parameter_fields():
    node = classes()["SegCamParameterNode"]
    return {stmt.target.id: ast.unparse(stmt.annotation) for stmt in node.body if isinstance(stmt, ast.AnnAssign)}


def test_parameter_node_has_the_documented_fields_and_no_secret():
    fields = parameter_fields()
    expected = {"inputVolume", "segmentation", "segmentId", "model", "targetClass", "layer", "method",
                "compareMethod", "threshold", "opacity", "colormap", "followStream", "outputA", "outputB"}
    assert expected <= set(fields), sorted(expected - set(fields))
    assert not [f for f in fields if re.search(r"token|secret|password|credential|apikey|endpoint", f, re.I)]
    assert "WithinRange(0.0, 1.0)" in fields["opacity"] and "WithinRange(0.0, 1.0)" in fields["threshold"]
    assert "Choice(" in fields["colormap"]


def test_widget_stays_thin_and_logic_has_no_widgets():
    found = classes()
    widget_source = ast.unparse(found["SegCamWidget"])
    for call in ("arrayFromVolume", "upload_volume", "start_cam", "SegCamClient", "run_cam_task", "saveNode"):
        assert call not in widget_source, f"the widget calls {call}; that belongs in the logic"
    logic_source = ast.unparse(found["SegCamLogic"])
    assert "self.ui" not in logic_source
    assert not re.search(r"qt\.Q(Widget|PushButton|ComboBox|Label|Dialog|InputDialog)", logic_source)


def test_self_test_runs_its_parts():
    test = classes()["SegCamTest"]
    names = methods(test)
    assert {"runTest", "setUp"} <= names
    run_test = next(n for n in test.body if isinstance(n, ast.FunctionDef) and n.name == "runTest")
    called = {ast.unparse(c.func) for c in ast.walk(run_test) if isinstance(c, ast.Call)}
    parts = {n for n in names if n.startswith("test_")}
    assert parts and {f"self.{n}" for n in parts} <= called


def test_scene_close_cancels_jobs_in_the_logic_not_in_exit():
    found = classes()
    logic_source = ast.unparse(found["SegCamLogic"])
    assert "StartCloseEvent" in logic_source
    exit_method = next(n for n in found["SegCamWidget"].body if isinstance(n, ast.FunctionDef) and n.name == "exit")
    assert "cancel" not in ast.unparse(exit_method) and "shutdown" not in ast.unparse(exit_method)


# -- the .ui file -----------------------------------------------------------------------------------------------------


def ui_widgets():
    root = ET.parse(UI).getroot()
    return {w.get("name"): w for w in root.iter("widget")}


def test_ui_names_used_by_the_widget_exist():
    used = set(re.findall(r"self\.ui\.(\w+)", SEGCAM.read_text(encoding="utf-8")))
    missing = sorted(used - set(ui_widgets()))
    assert used and missing == [], f"SegCam.py uses widgets the .ui lacks: {missing}"


def test_ui_parameter_bindings_name_parameter_fields():
    fields = parameter_fields()
    bound = {}
    for name, widget in ui_widgets().items():
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bound[name] = prop.find("string").text
    assert bound, "no widget is bound to the parameter node"
    assert set(bound.values()) <= set(fields), bound


def test_ui_custom_widgets_are_declared():
    root = ET.parse(UI).getroot()
    declared = {c.find("class").text for c in root.iter("customwidget")}
    used = {w.get("class") for w in root.iter("widget")}
    custom = {c for c in used if c.startswith(("ctk", "qMRML", "qSlicer"))}
    assert custom <= declared, sorted(custom - declared)


def test_requirements_have_lower_bounds_only():
    lines = [l.split("#")[0].strip() for l in (MODULE_DIR / "Resources" / "requirements.txt").read_text().splitlines()]
    lines = [l for l in lines if l]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.-]+>=[0-9.]+", l) for l in lines), lines
