"""Voxel bytes on the wire: numpy (K, J, I) C-order arrays ⇄ little-endian bytes with i fastest.

Voxel (i, j, k) of a volume of size (I, J, K) is element i + I*(j + J*k), which is exactly the C-order flat index of
the numpy array shaped (K, J, I). Uploads go out as chunks; heatmaps and label maps come back as slabs (runs of
voxels), which :class:`SlabAssembler` writes into a preallocated array while checking that no slab lies outside the
volume, overlaps another, or is missing at the end.
"""

from __future__ import annotations

import bisect
from typing import Iterator

import numpy as np

from .errors import KIND_PROTOCOL, InvalidInputError, SegCamError

# VoxelType enum values of segcam.proto (kept here so this module needs no generated code).
VOXEL_TYPE_UNSPECIFIED = 0
_VOXEL_TYPES = {
    1: np.dtype("<u1"),
    2: np.dtype("<i1"),
    3: np.dtype("<u2"),
    4: np.dtype("<i2"),
    5: np.dtype("<u4"),
    6: np.dtype("<i4"),
    7: np.dtype("<f4"),
    8: np.dtype("<f8"),
}
VOXEL_TYPE_UINT8 = 1
VOXEL_TYPE_FLOAT32 = 7
_TYPE_OF_KIND = {(dt.kind, dt.itemsize): code for code, dt in _VOXEL_TYPES.items()}
ALLOWED_DTYPES = "uint8, int8, uint16, int16, uint32, int32, float32, float64"


def voxel_type_of(dtype) -> int:
    """The protocol's VoxelType number of a numpy dtype; InvalidInputError naming the allowed types otherwise."""
    dt = np.dtype(dtype)
    code = _TYPE_OF_KIND.get((dt.kind, dt.itemsize))
    if code is None:
        hint = ""
        if dt.kind == "b":
            hint = " (convert a mask with .astype(np.uint8))"
        elif dt.kind in "iu" and dt.itemsize == 8:
            hint = " (convert with .astype(np.int32) if the values fit)"
        elif dt.kind == "f" and dt.itemsize == 2:
            hint = " (convert with .astype(np.float32))"
        raise InvalidInputError(f"voxel dtype {dt.name} is not supported; allowed: {ALLOWED_DTYPES}{hint}")
    return code


def dtype_of(voxel_type: int) -> np.dtype:
    """The little-endian numpy dtype of a VoxelType number."""
    try:
        return _VOXEL_TYPES[int(voxel_type)]
    except KeyError:
        raise SegCamError(KIND_PROTOCOL, f"voxel type {voxel_type} is not one of the protocol's voxel types "
                                         f"(1..8: {ALLOWED_DTYPES})") from None


def to_wire(array: np.ndarray) -> bytes:
    """Bytes of a (K, J, I) array in wire order: little-endian, C order (i fastest)."""
    a = np.asarray(array)
    voxel_type_of(a.dtype)
    return np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes(order="C")


def from_wire(data: bytes, voxel_type: int, shape_kji) -> np.ndarray:
    """A (K, J, I) array in native byte order from wire bytes."""
    dt = dtype_of(voxel_type)
    count = int(np.prod(shape_kji))
    if len(data) != count * dt.itemsize:
        raise SegCamError(KIND_PROTOCOL, f"{len(data)} bytes cannot hold {count} voxels of {dt.name} "
                                         f"({count * dt.itemsize} bytes expected)")
    return np.frombuffer(data, dtype=dt).astype(dt.newbyteorder("="), copy=True).reshape(tuple(shape_kji))


def iter_chunks(data, chunk_bytes: int) -> Iterator[tuple]:
    """(offset, bytes) pieces of ``data`` of at most ``chunk_bytes``, in order, covering every byte once."""
    if int(chunk_bytes) <= 0:
        raise InvalidInputError(f"chunk_bytes must be positive; got {chunk_bytes}")
    view = memoryview(data).cast("B")
    step = int(chunk_bytes)
    for offset in range(0, len(view), step):
        yield offset, bytes(view[offset:offset + step])


def mask_to_runs(mask: np.ndarray) -> tuple:
    """(starts, lengths) of the True runs of a (K, J, I) mask over the flat index i + I*(j + J*k)."""
    flat = np.ascontiguousarray(np.asarray(mask, dtype=bool)).reshape(-1).view(np.int8)
    edges = np.diff(np.concatenate(([0], flat, [0])).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return starts.astype(np.int64), (ends - starts).astype(np.int64)


def runs_to_mask(starts, lengths, shape_kji) -> np.ndarray:
    """The (K, J, I) boolean mask of runs (the inverse of :func:`mask_to_runs`)."""
    flat = np.zeros(int(np.prod(shape_kji)), dtype=bool)
    for s, n in zip(starts, lengths):
        flat[int(s):int(s) + int(n)] = True
    return flat.reshape(tuple(shape_kji))


class SlabAssembler:
    """Writes slabs of one streamed volume into a preallocated (K, J, I) array and tracks which voxels arrived.

    Heatmaps use ``out_dtype=float32`` and dequantise uint8 slabs as ``offset + scale * q``; label maps keep
    uint8. A slab outside the volume, overlapping voxels already received, or with a byte count that is not a
    whole number of voxels raises SegCamError(kind="protocol").
    """

    def __init__(self, shape_kji, voxel_type: int, scale: float = 1.0, offset: float = 0.0,
                 out_dtype=np.float32, name: str = "volume", first_slice: int = 0,
                 slice_count: int | None = None) -> None:
        self.shape = tuple(int(n) for n in shape_kji)
        if len(self.shape) != 3 or min(self.shape) <= 0:
            raise InvalidInputError(f"a slab target must be shaped (K, J, I) with positive sizes; got {self.shape}")
        self.wire_dtype = dtype_of(voxel_type)
        self.voxel_type = int(voxel_type)
        self.scale = float(scale)
        self.offset = float(offset)
        self.name = name
        self.array = np.zeros(self.shape, dtype=out_dtype)
        self._flat = self.array.reshape(-1)
        self.slice_voxels = self.shape[1] * self.shape[2]
        self.total = self._flat.size
        self._starts: list = []  # merged, sorted, disjoint intervals [start, end) of received voxels
        self._ends: list = []
        self.received = 0
        self.dequantise = self.voxel_type == VOXEL_TYPE_UINT8 and np.dtype(out_dtype).kind == "f"
        # Only k-slices [first_slice, first_slice + slice_count) are sent (HeatmapHeader.first_slice/slice_count);
        # the rest is exactly zero and counts as received from the start.
        k = self.shape[0]
        count = k - int(first_slice) if slice_count is None else int(slice_count)
        if int(first_slice) < 0 or count < 0 or int(first_slice) + count > k:
            raise SegCamError(KIND_PROTOCOL, f"{name}: the server announced slices [{first_slice}, "
                                             f"{int(first_slice) + count}) of a volume with {k} slices")
        self.first_slice, self.slice_count = int(first_slice), count
        self._sent_start = self.first_slice * self.slice_voxels
        self._sent_end = (self.first_slice + count) * self.slice_voxels
        for start, end in ((0, self._sent_start), (self._sent_end, self.total)):
            if end > start:
                self._insert(len(self._starts) - 1, start, end)
                self.received += end - start

    def add(self, voxel_offset: int, data: bytes) -> tuple:
        """Stores one slab; returns (k0, k1): the whole slices this slab completed (k0 == k1 when none)."""
        itemsize = self.wire_dtype.itemsize
        if len(data) % itemsize:
            raise SegCamError(KIND_PROTOCOL, f"{self.name}: slab of {len(data)} bytes is not a whole number of "
                                             f"{self.wire_dtype.name} voxels")
        count = len(data) // itemsize
        start = int(voxel_offset)
        end = start + count
        if start < 0 or end > self.total:
            raise SegCamError(KIND_PROTOCOL, f"{self.name}: slab voxels [{start}, {end}) lie outside the volume "
                                             f"of {self.total} voxels (shape {self.shape})")
        if count and (start < self._sent_start or end > self._sent_end):
            raise SegCamError(KIND_PROTOCOL, f"{self.name}: slab voxels [{start}, {end}) lie outside the announced "
                                             f"slices [{self.first_slice}, {self.first_slice + self.slice_count})")
        if count == 0:
            return self._slices_in(start, start)
        position = bisect.bisect_right(self._starts, start) - 1
        overlaps_left = position >= 0 and self._ends[position] > start
        overlaps_right = position + 1 < len(self._starts) and self._starts[position + 1] < end
        if overlaps_left or overlaps_right:
            raise SegCamError(KIND_PROTOCOL, f"{self.name}: slab voxels [{start}, {end}) overlap voxels already "
                                             f"received (a duplicate or overlapping slab)")
        values = np.frombuffer(data, dtype=self.wire_dtype)
        if self.dequantise:
            self._flat[start:end] = self.offset + self.scale * values.astype(np.float64)
        else:
            self._flat[start:end] = values
        self.received += count
        merged_start, merged_end = self._insert(position, start, end)
        first_full = -(-merged_start // self.slice_voxels)
        last_full = merged_end // self.slice_voxels
        k0 = max(first_full, start // self.slice_voxels)
        k1 = min(last_full, (end - 1) // self.slice_voxels + 1)
        return self._slices_in(k0, k1)

    @staticmethod
    def _slices_in(k0: int, k1: int) -> tuple:
        return (k0, k1) if k1 > k0 else (k0, k0)

    def _insert(self, position: int, start: int, end: int) -> tuple:
        """Adds [start, end) after interval ``position``, merging touching neighbours; returns the merged one."""
        index = position + 1
        self._starts.insert(index, start)
        self._ends.insert(index, end)
        if index + 1 < len(self._starts) and self._starts[index + 1] == self._ends[index]:
            self._ends[index] = self._ends.pop(index + 1)
            self._starts.pop(index + 1)
        if index > 0 and self._ends[index - 1] == self._starts[index]:
            self._ends[index - 1] = self._ends.pop(index)
            self._starts.pop(index)
            index -= 1
        return self._starts[index], self._ends[index]

    @property
    def complete(self) -> bool:
        return self.received == self.total

    @property
    def slices_complete(self) -> int:
        """Whole slices [0, n) that have arrived (the protocol's VoxelSlab.slices_complete)."""
        if not self._starts or self._starts[0] != 0:
            return 0
        return self._ends[0] // self.slice_voxels

    def missing(self) -> list:
        """The voxel intervals [start, end) not received yet."""
        gaps = []
        cursor = 0
        for s, e in zip(self._starts, self._ends):
            if s > cursor:
                gaps.append((cursor, s))
            cursor = e
        if cursor < self.total:
            gaps.append((cursor, self.total))
        return gaps

    def check_complete(self) -> None:
        """Raises SegCamError(kind="protocol") naming the first missing voxels unless every voxel arrived."""
        gaps = self.missing()
        if gaps:
            shown = ", ".join(f"[{s}, {e})" for s, e in gaps[:3])
            more = f" and {len(gaps) - 3} more" if len(gaps) > 3 else ""
            raise SegCamError(KIND_PROTOCOL, f"{self.name}: the stream ended with {self.total - self.received} of "
                                             f"{self.total} voxels missing: {shown}{more}")
