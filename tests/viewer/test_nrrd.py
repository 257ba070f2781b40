"""NRRD round trip with LPS geometry (oblique, anisotropic, non-zero origin)."""

import numpy as np
import pytest

from segcam_client import Geometry, InvalidInputError, nrrd
from test_geometry import OBLIQUE


@pytest.mark.parametrize("dtype, compress", [(np.float32, True), (np.float32, False), (np.uint8, True),
                                             (np.int16, False)])
def test_round_trip(tmp_path, dtype, compress):
    g = Geometry((7, 5, 3), (0.7, 0.9, 2.5), (-10.0, 20.5, 33.0), OBLIQUE)
    values = (np.random.default_rng(2).random(g.shape) * 200).astype(dtype)
    path = tmp_path / "heat.nrrd"
    nrrd.write(str(path), values, g, compress=compress, comments={"SegCam.method": "seg-hires-grad-cam"})
    back, geometry, keys = nrrd.read(str(path))
    assert back.dtype == np.dtype(dtype) and back.shape == g.shape and np.array_equal(back, values)
    assert geometry.same_grid(g, tol=1e-9)
    assert keys["SegCam.method"] == "seg-hires-grad-cam"
    header = path.read_bytes().split(b"\n\n")[0].decode()
    assert "space: left-posterior-superior" in header and "sizes: 7 5 3" in header
    assert "space origin: (-10.0,20.5,33.0)" in header


def test_reads_ras_space_as_lps(tmp_path):
    path = tmp_path / "ras.nrrd"
    header = ("NRRD0004\ntype: uchar\ndimension: 3\nspace: right-anterior-superior\nsizes: 2 2 1\n"
              "space directions: (-2,0,0) (0,-3,0) (0,0,4)\nkinds: domain domain domain\nendian: little\n"
              "encoding: raw\nspace origin: (10,20,30)\n\n")
    path.write_bytes(header.encode() + bytes([1, 2, 3, 4]))
    array, g, _ = nrrd.read(str(path))
    assert array.shape == (1, 2, 2) and array[0, 1, 0] == 3
    assert np.allclose(g.origin, (-10, -20, 30)) and np.allclose(g.spacing, (2, 3, 4))
    assert np.allclose(g.direction, np.eye(3))  # RAS (-x, -y) is LPS (+x, +y)


def test_rejects_wrong_shapes_and_unsupported_files(tmp_path):
    g = Geometry((4, 3, 2))
    with pytest.raises(InvalidInputError, match=r"\(K, J, I\) = \(2, 3, 4\)"):
        nrrd.write(str(tmp_path / "x.nrrd"), np.zeros((4, 3, 2), np.float32), g)
    with pytest.raises(InvalidInputError, match="not supported"):
        nrrd.write(str(tmp_path / "x.nrrd"), np.zeros(g.shape, np.complex64), g)
    bad = tmp_path / "bad.nrrd"
    bad.write_bytes(b"P6\n")
    with pytest.raises(InvalidInputError, match="not a NRRD file"):
        nrrd.read(str(bad))
    detached = tmp_path / "detached.nhdr"
    detached.write_bytes(b"NRRD0004\ntype: float\ndimension: 3\nsizes: 1 1 1\ndata file: x.raw\n\n")
    with pytest.raises(InvalidInputError, match="detached"):
        nrrd.read(str(detached))
