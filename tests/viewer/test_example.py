"""examples/python/compute_heatmap.py against the fake server (no .NET needed): NIfTI in, NIfTI heatmaps out on the
input's affine, progress on stderr, metrics on stdout, clear errors and exit codes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import MODULE_DIR, REPO
from segcam_client import Geometry
from test_geometry import OBLIQUE

nibabel = pytest.importorskip("nibabel", reason="python3-nibabel is needed by examples/python/compute_heatmap.py")
EXAMPLE = os.path.join(REPO, "examples", "python", "compute_heatmap.py")
GEOMETRY = Geometry((12, 10, 8), (0.8, 0.9, 2.5), (-50.0, 12.0, 100.0), OBLIQUE)


def volumes():
    k, j, i = np.meshgrid(*[np.arange(n) for n in GEOMETRY.shape], indexing="ij")
    ct = (i + 12 * j + 120 * k).astype(np.float32)
    labels = np.zeros(GEOMETRY.shape, np.uint8)
    labels[2:5, 3:6, 4:8] = 2
    return ct, labels


def save(path, array_kji, dtype):
    image = nibabel.Nifti1Image(np.ascontiguousarray(array_kji.transpose(2, 1, 0)).astype(dtype),
                                GEOMETRY.ijk_to_ras())
    nibabel.save(image, path)
    return path


def run(args, env_extra=None):
    env = dict(os.environ, PYTHONPATH=MODULE_DIR)
    for name in ("SEGCAM_ENDPOINT", "SEGCAM_TOKEN", "SEGCAM_CA_FILE"):
        env.pop(name, None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, EXAMPLE, *args], capture_output=True, text=True, timeout=120, env=env)


def test_example_writes_heatmaps_on_the_input_affine(fake, tmp_path):
    servicer, endpoint = fake
    servicer.token = "tok"
    ct, labels = volumes()
    image = save(str(tmp_path / "ct.nii.gz"), ct, np.float32)
    seg = save(str(tmp_path / "seg.nii.gz"), labels, np.uint8)
    (tmp_path / "token").write_text("tok\n")
    out = tmp_path / "out"
    result = run(["--server", f"http://{endpoint}/", "--token-file", str(tmp_path / "token"), "--image", image,
                  "--labels", seg, "--label", "2", "--ground-truth-label", "2", "--model", "fake-2d",
                  "--class", "tumour", "--methods", "seg-hires-grad-cam,seg-grad-cam", "--out", str(out)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "explain 8/8 100%" in result.stderr and "removed 'http://'" in result.stderr
    assert "energy inside" in result.stdout and "0.7500" in result.stdout
    for m, method in enumerate(["seg-hires-grad-cam", "seg-grad-cam"]):
        written = nibabel.load(str(out / f"{method}.nii.gz"))
        assert np.allclose(written.affine, nibabel.load(image).affine)
        # The fake's heatmap m is the image times (m + 1): any axis mix-up would show.
        assert np.array_equal(np.asarray(written.dataobj).transpose(2, 1, 0), ct * (m + 1))
        sidecar = json.loads((out / f"{method}.segcam.json").read_text())
        assert sidecar["complete"] is True and sidecar["method"] == method and sidecar["requestId"]
    request = servicer.last_cam_request
    assert request.pixel_set.WhichOneof("kind") == "label" and request.pixel_set.label.label == 2
    assert request.ground_truth.label.label == 2
    # The image went up as float32 (K, J, I) with the LPS geometry of the NIfTI's RAS affine.
    header, data = servicer.volumes[request.volume.volume_id]
    assert Geometry.from_proto(header.geometry).same_grid(GEOMETRY)
    assert np.array_equal(np.frombuffer(data, "<f4").reshape(GEOMETRY.shape), ct)
    assert header.name == ""  # no file names go to the server


def test_example_errors(fake, tmp_path):
    servicer, endpoint = fake
    ct, _ = volumes()
    image = save(str(tmp_path / "ct.nii.gz"), ct, np.float32)
    base = ["--server", endpoint, "--image", image, "--model", "fake-2d", "--class", "1", "--out", str(tmp_path)]
    usage = run(base)
    assert usage.returncode == 2 and "exactly one pixel set" in usage.stderr
    bad_box = run(base + ["--bbox", "1,2:3,4"])
    assert bad_box.returncode == 2 and "i,j,k:i,j,k" in bad_box.stderr
    unknown = run(base + ["--bbox", "0,0,0:4,4,4", "--methods", "seg-magic-cam"])
    assert unknown.returncode == 1 and "'seg-magic-cam' is not a method" in unknown.stderr
    assert "status: INVALID_ARGUMENT" in unknown.stderr
    servicer.token = "tok"
    denied = run(base + ["--bbox", "0,0,0:4,4,4"])
    assert denied.returncode == 1 and "token once more" in denied.stderr
    pinned = run(base + ["--bbox", "0,0,0:4,4,4"], {"SEGCAM_TOKEN": "tok"})
    assert pinned.returncode == 0, pinned.stderr
    other = save(str(tmp_path / "other.nii.gz"), np.zeros((8, 10, 13), np.uint8), np.uint8)
    mismatch = run(base + ["--labels", other, "--label", "1"])
    assert mismatch.returncode == 1 and "not on the image grid" in mismatch.stderr
