"""Python dependencies inside Slicer (VIEWER.md §3): grpcio and protobuf, installed on first use, after asking.

Called on the main thread on the first Connect or Compute, never at import, in a constructor or in ``setup()``.

* Slicer ≥ 5.11: ``slicer.packaging.pip_ensure`` checks, asks, installs with progress, offers a restart when an
  imported package changed, and installs nothing in testing mode.
* Slicer 5.6–5.10: ``importlib.metadata`` finds what is missing or too old, ``confirmOkCancelDisplay`` asks,
  ``slicer.util.pip_install`` installs only those packages (a bundled package that meets its bound is never
  touched), optionally from a local wheel folder (``--no-index --find-links``) for machines behind a firewall.

The requirement parsing and version comparison are pure and unit-tested.
"""

from __future__ import annotations

import re
from typing import Callable, List, NamedTuple, Optional, Tuple


class Requirement(NamedTuple):
    name: str
    minimum: Optional[str]
    line: str


class Missing(NamedTuple):
    requirement: Requirement
    installed: Optional[str]


def parse_requirements(text: str) -> List[Requirement]:
    """``name>=version`` lines (comments and blank lines skipped); other specifiers are kept verbatim."""
    requirements = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:>=\s*([0-9][0-9A-Za-z.]*))?\s*$", line)
        if match:
            requirements.append(Requirement(match.group(1), match.group(2), line))
        else:
            name = re.split(r"[<>=!~;\[ ]", line, 1)[0]
            requirements.append(Requirement(name, None, line))
    return requirements


def version_key(version: str) -> Tuple[int, ...]:
    """Numeric release part of a version ("4.21.12" → (4, 21, 12); "1.51.0rc1" → (1, 51, 0))."""
    numbers = []
    for part in version.split("."):
        match = re.match(r"^(\d+)", part)
        if not match:
            break
        numbers.append(int(match.group(1)))
    return tuple(numbers)


def satisfies(installed: str, minimum: Optional[str]) -> bool:
    if minimum is None:
        return True
    have, need = version_key(installed), version_key(minimum)
    width = max(len(have), len(need))
    return have + (0,) * (width - len(have)) >= need + (0,) * (width - len(need))


def find_missing(requirements: List[Requirement], version_of: Optional[Callable[[str], str]] = None) -> List[Missing]:
    """Requirements that are absent or older than their lower bound."""
    if version_of is None:
        import importlib.metadata

        version_of = importlib.metadata.version
    missing = []
    for requirement in requirements:
        try:
            installed = version_of(requirement.name)
        except Exception:  # importlib.metadata.PackageNotFoundError and broken metadata alike
            installed = None
        if installed is None or not satisfies(installed, requirement.minimum):
            missing.append(Missing(requirement, installed))
    return missing


def pip_arguments(missing: List[Missing], wheel_folder: Optional[str] = None) -> List[str]:
    arguments = [m.requirement.line for m in missing]
    if wheel_folder:
        arguments = ["--no-index", "--find-links", wheel_folder] + arguments
    return arguments


def describe(missing: List[Missing]) -> str:
    lines = []
    for item in missing:
        have = f"installed {item.installed}" if item.installed else "not installed"
        lines.append(f"  • {item.requirement.line} ({have})")
    return "\n".join(lines)


def ensure_dependencies(requirements_path: str, wheel_folder: Optional[str] = None) -> bool:
    """True when grpcio and protobuf are importable afterwards. Asks before installing anything."""
    import importlib

    import slicer

    with open(requirements_path, encoding="utf-8") as handle:
        requirements = parse_requirements(handle.read())
    if not find_missing(requirements):
        return True
    try:
        import slicer.packaging as packaging  # Slicer >= 5.11
    except ImportError:
        packaging = None
    if packaging is not None and hasattr(packaging, "pip_ensure") and not wheel_folder:
        packaging.pip_ensure(packaging.load_requirements(requirements_path), requester="SegCam")
        importlib.invalidate_caches()
        return not find_missing(requirements)
    missing = find_missing(requirements)
    if slicer.app.testingEnabled():
        return False  # like pip_ensure: nothing is installed while self-tests run
    source = f"from the local folder {wheel_folder}" if wheel_folder else "from the Python Package Index"
    if not slicer.util.confirmOkCancelDisplay(
        "SegCam needs these Python packages to talk to a SegCam server:\n\n"
        + describe(missing)
        + f"\n\nInstall them now {source}? This may take a minute.",
        windowTitle="SegCam: install Python packages",
    ):
        return False
    try:
        slicer.util.pip_install(pip_arguments(missing, wheel_folder))
    except Exception as error:
        slicer.util.errorDisplay(
            "Installing the Python packages failed. A firewall or proxy is the usual cause; a folder of "
            "downloaded wheels can be set in the SegCam settings (Application Settings → SegCam).",
            detailedText=str(error),
        )
        return False
    importlib.invalidate_caches()
    still = find_missing(requirements)
    if still:
        slicer.util.errorDisplay("Some packages are still missing after installing:\n" + describe(still))
        return False
    return True
