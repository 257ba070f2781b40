"""Paths shared by the viewer tests (kept out of conftest.py so this folder needs none)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "src" / "SlicerSegCam" / "SegCam"
CLIENT_DIR = MODULE_DIR / "segcam_client"
MANIFEST_DIR = REPO / "plugin-manifest"
CAM_METHODS_DIR = REPO / "src" / "SegCam.Cam" / "Methods"
PROTO = REPO / "proto" / "segcam" / "v1" / "segcam.proto"


def use_module_dir() -> None:
    """Make ``SegCamLib`` (and ``segcam_client``, when present) importable as Slicer does."""
    if str(MODULE_DIR) not in sys.path:
        sys.path.insert(0, str(MODULE_DIR))
