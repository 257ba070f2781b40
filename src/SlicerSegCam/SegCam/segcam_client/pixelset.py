"""PixelSet: the voxels M whose class score S = sum over M of y_c is explained (segcam.v1.PixelSet).

All indices are on the image's grid: masks are (K, J, I) arrays; boxes and voxel lists are given as (i, j, k).
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidInputError
from .geometry import Geometry
from .wire import mask_to_runs


def _ijk(values, name: str) -> tuple:
    try:
        items = tuple(int(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be three integers (i, j, k); got {values!r}") from exc
    if len(items) != 3:
        raise InvalidInputError(f"{name} must be three integers (i, j, k); got {len(items)} values")
    return items


class PixelSet:
    """One pixel-set encoding; build it with the class methods, not the constructor."""

    def __init__(self, kind: str, fields: dict, shape=None, count: int | None = None) -> None:
        self.kind = kind  # "runs", "voxels", "box", "label", "predicted", "all" (the proto's oneof name)
        self._fields = fields
        self.shape = shape  # (K, J, I) of a mask, else None
        self.count = count  # voxels in the set when known on the client

    def __repr__(self) -> str:
        extra = f", count={self.count}" if self.count is not None else ""
        return f"PixelSet({self.kind}{extra})"

    # ---- constructors ---------------------------------------------------------------------------------------

    @classmethod
    def mask(cls, mask) -> "PixelSet":
        """A (K, J, I) mask (bool or numbers, nonzero = in), sent as runs over the flat index i + I*(j + J*k)."""
        a = np.asarray(mask)
        if a.ndim != 3:
            raise InvalidInputError(f"a pixel-set mask must be 3-D, shaped (K, J, I) like the image array; "
                                    f"got shape {a.shape}")
        starts, lengths = mask_to_runs(a != 0)
        if len(starts) == 0:
            raise InvalidInputError("the pixel-set mask is empty (no nonzero voxel); the heatmap would be all zero")
        return cls("runs", {"starts": starts.tolist(), "lengths": lengths.tolist()}, shape=tuple(a.shape),
                   count=int(lengths.sum()))

    @classmethod
    def box(cls, min_ijk, max_ijk) -> "PixelSet":
        """Voxels with min <= (i, j, k) < max (min inclusive, max exclusive, as VoxelBox)."""
        lo, hi = _ijk(min_ijk, "box min"), _ijk(max_ijk, "box max")
        if any(a < 0 for a in lo) or any(b <= a for a, b in zip(lo, hi)):
            raise InvalidInputError(f"box min {lo} must be >= 0 and below max {hi} on every axis "
                                    f"(max is exclusive)")
        return cls("box", {"min": list(lo), "max": list(hi)},
                   count=int(np.prod([b - a for a, b in zip(lo, hi)])))

    @classmethod
    def voxels(cls, ijk_list) -> "PixelSet":
        """Individual voxels given as (i, j, k) triples."""
        points = np.asarray(ijk_list)
        if points.ndim == 1 and points.size == 3:
            points = points.reshape(1, 3)
        if points.ndim != 2 or points.shape[1] != 3 or points.shape[0] == 0:
            raise InvalidInputError(f"voxels must be a non-empty list of (i, j, k) triples; got shape {points.shape}")
        if not np.issubdtype(points.dtype, np.integer):
            if not np.all(np.equal(np.mod(points, 1), 0)):
                raise InvalidInputError("voxel indices must be integers")
            points = points.astype(np.int64)
        if points.min() < 0:
            raise InvalidInputError("voxel indices must be >= 0")
        return cls("voxels", {"ijk": points.reshape(-1).astype(int).tolist()}, count=len(np.unique(points, axis=0)))

    @classmethod
    def label(cls, label_volume_id: str, value: int) -> "PixelSet":
        """Voxels of an uploaded label map (same grid as the image) equal to ``value``."""
        if not isinstance(label_volume_id, str) or not label_volume_id:
            raise InvalidInputError("label_volume_id must be the volume id returned by upload_volume")
        return cls("label", {"label_volume_id": label_volume_id, "label": int(value)})

    @classmethod
    def predicted(cls) -> "PixelSet":
        """Where the model predicts the explained class (argmax), found by a segmentation pass on the server."""
        return cls("predicted", {})

    @classmethod
    def all(cls) -> "PixelSet":
        """Every voxel."""
        return cls("all", {})

    # ---- use ---------------------------------------------------------------------------------------------------

    def encoded_size(self) -> int:
        """Bytes of the request field (exact protobuf size of the encoding)."""
        from ._gen import segcam_pb2 as pb
        return self.to_proto(pb).ByteSize()

    def as_mask(self) -> np.ndarray:
        """The uint8 (K, J, I) mask of a "runs" set (1 inside)."""
        if self.kind != "runs":
            raise InvalidInputError(f"only a mask pixel set can be turned back into a mask; this one is {self.kind}")
        flat = np.zeros(int(np.prod(self.shape)), dtype=np.uint8)
        for start, length in zip(self._fields["starts"], self._fields["lengths"]):
            flat[start:start + length] = 1
        return flat.reshape(self.shape)

    def validate_for(self, geometry: Geometry | None, what: str = "pixel set") -> None:
        """Raises InvalidInputError when the set does not fit the image grid (when the grid is known)."""
        if geometry is None:
            return
        size = geometry.size
        if self.kind == "runs" and self.shape != geometry.shape:
            raise InvalidInputError(f"{what} mask shape {self.shape} differs from the image's (K, J, I) = "
                                    f"{geometry.shape}; resample the mask onto the image grid first")
        if self.kind == "box":
            hi = self._fields["max"]
            if any(b > n for b, n in zip(hi, size)):
                raise InvalidInputError(f"{what} box max {tuple(hi)} exceeds the image size (I, J, K) = {size} "
                                        f"(max is exclusive)")
        if self.kind == "voxels":
            points = np.asarray(self._fields["ijk"]).reshape(-1, 3)
            outside = np.any(points >= np.asarray(size), axis=1)
            if outside.any():
                raise InvalidInputError(f"{what}: {int(outside.sum())} voxel(s) lie outside the image size "
                                        f"(I, J, K) = {size}, e.g. {tuple(points[outside][0])}")

    def to_proto(self, pb):
        """The segcam.v1.PixelSet message (``pb`` is the generated segcam_pb2 module)."""
        if self.kind == "runs":
            return pb.PixelSet(runs=pb.VoxelRuns(**self._fields))
        if self.kind == "voxels":
            return pb.PixelSet(voxels=pb.VoxelList(**self._fields))
        if self.kind == "box":
            return pb.PixelSet(box=pb.VoxelBox(**self._fields))
        if self.kind == "label":
            return pb.PixelSet(label=pb.LabelPixels(**self._fields))
        if self.kind == "predicted":
            return pb.PixelSet(predicted=pb.PredictedPixels())
        return pb.PixelSet(all=pb.AllPixels())
