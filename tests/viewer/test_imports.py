"""segcam_client imports only the standard library, numpy, grpc and google.protobuf (docs/VIEWER.md §1)."""

import ast
import os
import sys

from conftest import CLIENT_DIR

FORBIDDEN = {"slicer", "qt", "vtk", "ctk", "PythonQt", "mrml", "__main__"}
ALLOWED_THIRD_PARTY = {"numpy", "grpc", "google"}


def _python_files():
    for folder, _, names in os.walk(CLIENT_DIR):
        for name in sorted(names):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def _imported_roots(path):
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                yield node.lineno, node.module.split(".")[0]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            yield node.lineno, "__import__"
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            yield node.lineno, "importlib.import_module"


def test_the_client_package_has_its_modules():
    names = {os.path.relpath(p, CLIENT_DIR) for p in _python_files()}
    for expected in ("__init__.py", "client.py", "errors.py", "geometry.py", "wire.py", "policy.py", "nrrd.py",
                     os.path.join("_gen", "segcam_pb2.py"), os.path.join("_gen", "segcam_pb2_grpc.py")):
        assert expected in names


def test_no_slicer_qt_vtk_ctk_or_other_third_party_imports():
    stdlib = set(sys.stdlib_module_names)
    problems = []
    for path in _python_files():
        for line, root in _imported_roots(path):
            where = f"{os.path.relpath(path, CLIENT_DIR)}:{line}"
            if root in FORBIDDEN or root in ("__import__", "importlib.import_module"):
                problems.append(f"{where} imports {root}")
            elif root not in stdlib and root not in ALLOWED_THIRD_PARTY and root != "segcam_client":
                problems.append(f"{where} imports third-party module {root}")
    assert not problems, "\n".join(problems)


def test_version_is_declared():
    import segcam_client

    assert segcam_client.__version__ == "0.4.0"
    tree = ast.parse(open(os.path.join(CLIENT_DIR, "__init__.py")).read())
    assigned = [n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "__version__"]
    assert assigned and assigned[0].value.value == "0.4.0"
