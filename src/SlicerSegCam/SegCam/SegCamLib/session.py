"""Which CT is already on which server (VIEWER.md §4, "Sessions").

A CT is uploaded once per server and reused by every later Compute. The cache key is the server endpoint, the
volume node's ID, the modified time of its image data and a hash of its geometry, so an edited or re-oriented
volume is uploaded again (a stale cached image is a reported bug in a comparable plugin). The cache is cleared
when the scene closes or the endpoint changes; a NOT_FOUND from the server (it forgot the volume) drops the entry
and the worker uploads again without asking.

Pure Python.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence


class UploadKey(NamedTuple):
    endpoint: str
    node_id: str
    image_mtime: int
    geometry_hash: str


def geometry_hash(ijk_to_ras: Iterable[Iterable[float]], dims: Sequence[int], dtype: str = "") -> str:
    """Short hash of the grid: the 4x4 IJK→RAS matrix (rounded to 1e-6 mm), the dimensions and the voxel type."""
    values = [f"{float(v):.6f}" for row in ijk_to_ras for v in row]
    text = "|".join(values) + "|" + ",".join(str(int(d)) for d in dims) + "|" + dtype
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


class UploadCache:
    """UploadKey → server volume id. One entry per (endpoint, node): a newer key replaces the older one."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: Dict[UploadKey, str] = {}

    def get(self, key: UploadKey) -> Optional[str]:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: UploadKey, volume_id: str) -> List[str]:
        """Remember ``volume_id``; returns the ids of replaced entries of the same node (may be deleted)."""
        with self._lock:
            stale = [
                (old, vid)
                for old, vid in self._entries.items()
                if old.endpoint == key.endpoint and old.node_id == key.node_id and old != key
            ]
            for old, _ in stale:
                del self._entries[old]
            self._entries[key] = volume_id
            return [vid for _, vid in stale if vid != volume_id]

    def forget_volume(self, volume_id: str) -> None:
        with self._lock:
            for key in [k for k, v in self._entries.items() if v == volume_id]:
                del self._entries[key]

    def forget_node(self, node_id: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k.node_id == node_id]:
                del self._entries[key]

    def clear(self) -> List[str]:
        with self._lock:
            ids = list(self._entries.values())
            self._entries.clear()
            return ids

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
