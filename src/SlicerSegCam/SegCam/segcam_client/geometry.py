"""Volume geometry in LPS millimetres, as the protocol carries it (docs/VIEWER.md §6).

The physical (LPS) position of voxel (i, j, k) is ``origin + direction @ diag(spacing) @ (i, j, k)``; column a of
``direction`` is the LPS unit vector of index axis a. 3D Slicer keeps IJK→RAS matrices and nibabel gives RAS
affines; both become LPS through diag(-1, -1, 1). Arrays are (K, J, I) in C order, i fastest, so
``array.shape == geometry.size[::-1]``.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from .errors import InvalidInputError

#: diag(-1, -1, 1, 1): RAS ⇄ LPS (its own inverse).
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])

#: How far from orthonormal a direction matrix may be (float32 round trips in files and Slicer).
ORTHONORMAL_TOLERANCE = 1e-4


def _triple(values, name: str, cast, positive: bool = False) -> tuple:
    try:
        items = tuple(cast(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"geometry {name} must be three numbers (i, j, k); got {values!r}") from exc
    if len(items) != 3:
        raise InvalidInputError(f"geometry {name} must have three values (i, j, k); got {len(items)}: {values!r}")
    if not all(np.isfinite(v) for v in items):
        raise InvalidInputError(f"geometry {name} must be finite; got {items}")
    if positive and not all(v > 0 for v in items):
        raise InvalidInputError(f"geometry {name} must be positive along i, j and k; got {items}")
    return items


@dataclasses.dataclass(eq=False)
class Geometry:
    """Grid of a volume: size (I, J, K), spacing (mm), origin (LPS mm) and direction (3x3, columns = i, j, k)."""

    size: tuple
    spacing: tuple = (1.0, 1.0, 1.0)
    origin: tuple = (0.0, 0.0, 0.0)
    direction: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))

    def __post_init__(self) -> None:
        size = _triple(self.size, "size", int, positive=True)
        if any(float(a) != b for a, b in zip(self.size, size)):
            raise InvalidInputError(f"geometry size must be whole voxel counts (I, J, K); got {self.size!r}")
        self.size = size
        self.spacing = _triple(self.spacing, "spacing", float, positive=True)
        self.origin = _triple(self.origin, "origin", float)
        direction = np.asarray(self.direction, dtype=np.float64)
        if direction.shape != (3, 3):
            raise InvalidInputError(f"geometry direction must be a 3x3 matrix (columns = i, j, k axes); "
                                    f"got shape {direction.shape}")
        if not np.all(np.isfinite(direction)):
            raise InvalidInputError("geometry direction must be finite")
        error = np.abs(direction.T @ direction - np.eye(3)).max()
        if error > ORTHONORMAL_TOLERANCE:
            raise InvalidInputError(f"geometry direction must be orthonormal (columns unit length and at right "
                                    f"angles); D^T D differs from the identity by {error:.3g}")
        self.direction = direction.copy()
        self.direction.setflags(write=False)

    # ---- shapes ---------------------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        """The numpy shape of the volume's array: (K, J, I)."""
        return self.size[::-1]

    @property
    def voxel_count(self) -> int:
        i, j, k = self.size
        return i * j * k

    # ---- matrices -------------------------------------------------------------------------------------------

    def ijk_to_lps(self) -> np.ndarray:
        """4x4 homogeneous matrix from (i, j, k, 1) to LPS millimetres."""
        m = np.eye(4)
        m[:3, :3] = self.direction @ np.diag(self.spacing)
        m[:3, 3] = self.origin
        return m

    def ijk_to_ras(self) -> np.ndarray:
        """4x4 IJK→RAS matrix (3D Slicer's IJKToRAS, nibabel's affine for an (I, J, K) array)."""
        return RAS_TO_LPS @ self.ijk_to_lps()

    @classmethod
    def from_ijk_to_lps(cls, matrix, size) -> "Geometry":
        """The geometry of a grid of ``size`` (I, J, K) placed by a 4x4 IJK→LPS matrix."""
        m = np.asarray(matrix, dtype=np.float64)
        if m.shape != (4, 4):
            raise InvalidInputError(f"an IJK-to-LPS matrix must be 4x4; got shape {m.shape}")
        if not np.allclose(m[3], [0, 0, 0, 1]):
            raise InvalidInputError(f"the last row of an IJK matrix must be (0, 0, 0, 1); got {m[3].tolist()}")
        columns = m[:3, :3]
        spacing = np.linalg.norm(columns, axis=0)
        if np.any(spacing <= 0):
            raise InvalidInputError(f"an IJK matrix must not have a zero column; column norms {spacing.tolist()}")
        return cls(size=size, spacing=tuple(spacing), origin=tuple(m[:3, 3]), direction=columns / spacing)

    @classmethod
    def from_ijk_to_ras(cls, matrix, size) -> "Geometry":
        """The geometry of a grid of ``size`` (I, J, K) placed by a 4x4 IJK→RAS matrix (Slicer, nibabel)."""
        m = np.asarray(matrix, dtype=np.float64)
        if m.shape != (4, 4):
            raise InvalidInputError(f"an IJK-to-RAS matrix must be 4x4; got shape {m.shape}")
        return cls.from_ijk_to_lps(RAS_TO_LPS @ m, size)

    def ijk_to_physical(self, ijk) -> np.ndarray:
        """LPS millimetres of index points (..., 3) given as (i, j, k)."""
        points = np.asarray(ijk, dtype=np.float64)
        return points @ (self.direction @ np.diag(self.spacing)).T + np.asarray(self.origin)

    def physical_to_ijk(self, lps) -> np.ndarray:
        """Continuous (i, j, k) indices of LPS points (..., 3)."""
        points = np.asarray(lps, dtype=np.float64) - np.asarray(self.origin)
        return points @ self.direction / np.asarray(self.spacing)

    # ---- comparison -----------------------------------------------------------------------------------------

    def mismatch(self, other: "Geometry", tol: float = 1e-4) -> str | None:
        """Why ``other`` is not the same grid as this one within ``tol`` mm, or None when it is.

        Sizes must be equal; the eight corner voxels must lie within ``tol`` mm of each other (which bounds every
        voxel's displacement, since positions are affine in the index).
        """
        if tuple(self.size) != tuple(other.size):
            return f"size {other.size} differs from {self.size} (I, J, K)"
        corners = np.array(list(itertools.product(*[(0, n - 1) for n in self.size])), dtype=np.float64)
        distance = np.linalg.norm(self.ijk_to_physical(corners) - other.ijk_to_physical(corners), axis=1).max()
        if distance > tol:
            return (f"voxel positions differ by up to {distance:.6g} mm (tolerance {tol:g} mm): "
                    f"origin {other.origin} vs {self.origin}, spacing {other.spacing} vs {self.spacing}, "
                    f"direction {np.round(other.direction, 6).tolist()} vs {np.round(self.direction, 6).tolist()}")
        return None

    def same_grid(self, other: "Geometry", tol: float = 1e-4) -> bool:
        """True when ``other`` has the same size and its voxels lie within ``tol`` mm of this grid's."""
        return self.mismatch(other, tol) is None

    def __repr__(self) -> str:
        return (f"Geometry(size={self.size}, spacing={self.spacing}, origin={self.origin}, "
                f"direction={self.direction.tolist()})")

    # ---- protocol -------------------------------------------------------------------------------------------

    def to_proto(self, message_type=None):
        """A segcam.v1.VolumeGeometry message (direction row by row)."""
        if message_type is None:
            from ._gen import segcam_pb2
            message_type = segcam_pb2.VolumeGeometry
        return message_type(size=list(self.size), spacing=list(self.spacing), origin=list(self.origin),
                            direction=[float(v) for v in self.direction.reshape(9)])

    @classmethod
    def from_proto(cls, message) -> "Geometry":
        """Geometry of a VolumeGeometry message, with the protocol's defaults for empty fields."""
        if len(message.size) != 3:
            raise InvalidInputError(f"VolumeGeometry.size must have three values; got {list(message.size)}")
        spacing = tuple(message.spacing) or (1.0, 1.0, 1.0)
        origin = tuple(message.origin) or (0.0, 0.0, 0.0)
        if message.direction and len(message.direction) != 9:
            raise InvalidInputError(f"VolumeGeometry.direction must have nine values; got {len(message.direction)}")
        direction = np.asarray(message.direction, dtype=np.float64).reshape(3, 3) if message.direction \
            else np.eye(3)
        return cls(size=tuple(message.size), spacing=spacing, origin=origin, direction=direction)

    def check_array(self, array: np.ndarray, what: str = "array") -> None:
        """Raises InvalidInputError unless ``array`` is shaped (K, J, I) for this geometry."""
        if np.ndim(array) != 3:
            raise InvalidInputError(f"{what} must be 3-D, shaped (K, J, I) = {self.shape}; got {np.ndim(array)}-D "
                                    f"shape {np.shape(array)}")
        if tuple(np.shape(array)) != self.shape:
            raise InvalidInputError(
                f"{what} shape {tuple(np.shape(array))} does not match the geometry: size (I, J, K) = {self.size} "
                f"needs an array shaped (K, J, I) = {self.shape} (numpy order is k, j, i; transpose an (I, J, K) "
                f"array with array.transpose(2, 1, 0))")
