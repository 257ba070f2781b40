"""Shared pytest setup for the viewer-side tests (run with Debian's /usr/bin/python3 -m pytest tests/viewer)."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
MODULE_DIR = os.path.join(REPO, "src", "SlicerSegCam", "SegCam")
CLIENT_DIR = os.path.join(MODULE_DIR, "segcam_client")

for path in (MODULE_DIR, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture
def fake():
    """A FakeSegCam servicer running on 127.0.0.1:0; yields (servicer, endpoint)."""
    from fake_segcam import FakeSegCam, start_server

    servicer = FakeSegCam()
    server, endpoint = start_server(servicer)
    try:
        yield servicer, endpoint
    finally:
        server.stop(grace=None)
