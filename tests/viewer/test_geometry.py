"""Geometry: RAS ⇄ LPS, oblique anisotropic grids with non-zero origins, (K, J, I) order, tolerance."""

import numpy as np
import pytest

from segcam_client import Geometry, InvalidInputError
from segcam_client._gen import segcam_pb2 as pb


def rotation(axis, degrees):
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    i, j = [(1, 2), (0, 2), (0, 1)][axis]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


OBLIQUE = rotation(2, 30) @ rotation(0, 17)


def oblique_geometry():
    return Geometry(size=(48, 40, 6), spacing=(0.7, 0.9, 3.0), origin=(-120.5, 33.25, 410.0), direction=OBLIQUE)


def test_ijk_to_lps_places_voxels_as_the_protocol_says():
    g = oblique_geometry()
    ijk = np.array([3.0, 5.0, 2.0])
    expected = np.array(g.origin) + OBLIQUE @ (np.array(g.spacing) * ijk)
    assert np.allclose(g.ijk_to_physical(ijk), expected)
    assert np.allclose((g.ijk_to_lps() @ np.append(ijk, 1))[:3], expected)
    assert np.allclose(g.physical_to_ijk(expected), ijk)


def test_ras_matrix_flips_x_and_y_only():
    g = oblique_geometry()
    lps = g.ijk_to_lps()
    ras = g.ijk_to_ras()
    assert np.allclose(ras[0], -lps[0]) and np.allclose(ras[1], -lps[1]) and np.allclose(ras[2:], lps[2:])


def test_ras_lps_round_trip_of_an_oblique_anisotropic_grid():
    g = oblique_geometry()
    back = Geometry.from_ijk_to_ras(g.ijk_to_ras(), g.size)
    assert back.same_grid(g, tol=1e-9)
    assert np.allclose(back.spacing, g.spacing) and np.allclose(back.origin, g.origin)
    assert np.allclose(back.direction, g.direction)
    # IJK → LPS → IJK is the identity on every corner.
    corners = np.array([[0, 0, 0], [47, 0, 0], [0, 39, 0], [0, 0, 5], [47, 39, 5]], dtype=float)
    assert np.allclose(g.physical_to_ijk(g.ijk_to_physical(corners)), corners)


def test_slicer_style_ras_matrix_gives_the_expected_lps_origin():
    # A Slicer volume with IJKToRAS = diag(-0.8, -0.8, 2.5) and RAS origin (100, 50, -30) (the usual LPS file grid).
    ras = np.array([[-0.8, 0, 0, 100.0], [0, -0.8, 0, 50.0], [0, 0, 2.5, -30.0], [0, 0, 0, 1]])
    g = Geometry.from_ijk_to_ras(ras, (10, 20, 30))
    assert np.allclose(g.origin, (-100.0, -50.0, -30.0))
    assert np.allclose(g.spacing, (0.8, 0.8, 2.5))
    assert np.allclose(g.direction, np.eye(3))


def test_array_order_is_kji():
    g = Geometry(size=(5, 4, 3))
    assert g.shape == (3, 4, 5) and g.voxel_count == 60
    g.check_array(np.zeros((3, 4, 5)))
    with pytest.raises(InvalidInputError, match=r"\(K, J, I\) = \(3, 4, 5\).*transpose"):
        g.check_array(np.zeros((5, 4, 3)))
    with pytest.raises(InvalidInputError, match="must be 3-D"):
        g.check_array(np.zeros((4, 5)))
    # The flat C-order index of a (K, J, I) array is the protocol's i + I*(j + J*k).
    a = np.arange(60).reshape(g.shape)
    i, j, k = 2, 3, 1
    assert a[k, j, i] == i + 5 * (j + 4 * k)


def test_same_grid_tolerance_is_in_millimetres():
    g = oblique_geometry()
    shifted = Geometry(g.size, g.spacing, tuple(np.array(g.origin) + [0, 0, 5e-5]), g.direction)
    assert g.same_grid(shifted)
    moved = Geometry(g.size, g.spacing, tuple(np.array(g.origin) + [0, 2e-4, 0]), g.direction)
    assert not g.same_grid(moved)
    assert "origin" in g.mismatch(moved)
    # A tiny rotation moves the far corner by more than the tolerance even though the origin is equal.
    tilted = Geometry(g.size, g.spacing, g.origin, rotation(2, 0.01) @ g.direction)
    assert not g.same_grid(tilted)
    other_size = Geometry((48, 40, 7), g.spacing, g.origin, g.direction)
    assert "size" in g.mismatch(other_size)
    flipped = Geometry(g.size, g.spacing, g.origin, g.direction @ np.diag([-1, 1, 1]))
    assert not g.same_grid(flipped)


def test_proto_round_trip_and_defaults():
    g = oblique_geometry()
    message = g.to_proto()
    assert list(message.size) == [48, 40, 6]
    # Direction row by row: element [r, c] at 3*r + c, column c = index axis c.
    assert np.allclose(np.array(message.direction).reshape(3, 3)[:, 0], OBLIQUE[:, 0])
    assert Geometry.from_proto(message).same_grid(g, tol=1e-12)
    bare = Geometry.from_proto(pb.VolumeGeometry(size=[2, 3, 4]))
    assert bare.spacing == (1.0, 1.0, 1.0) and bare.origin == (0.0, 0.0, 0.0)
    assert np.array_equal(bare.direction, np.eye(3))


@pytest.mark.parametrize("kwargs, message", [
    (dict(size=(0, 2, 2)), "size must be positive"),
    (dict(size=(2, 2)), "three values"),
    (dict(size=(2.5, 2, 2)), "whole voxel counts"),
    (dict(size=(2, 2, 2), spacing=(1, -1, 1)), "spacing must be positive"),
    (dict(size=(2, 2, 2), origin=(0, float("nan"), 0)), "origin must be finite"),
    (dict(size=(2, 2, 2), direction=np.diag([1.0, 2.0, 1.0])), "orthonormal"),
    (dict(size=(2, 2, 2), direction=np.eye(4)), "3x3"),
])
def test_invalid_geometries_name_the_problem(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        Geometry(**kwargs)


def test_direction_is_read_only_copy():
    d = np.eye(3)
    g = Geometry((2, 2, 2), direction=d)
    d[0, 0] = -1
    assert g.direction[0, 0] == 1
    with pytest.raises(ValueError):
        g.direction[0, 0] = 5
