"""Minimal NRRD reading and writing for heatmaps and label maps (docs/VIEWER.md §9).

Writes NRRD0004 with ``space: left-posterior-superior``, ``space directions`` (direction columns times spacing)
and ``space origin``: the form 3D Slicer writes and reads. Reads attached-header 3-D scalar files with raw or gzip
encoding in LPS or RAS space. Arrays are (K, J, I) like everywhere in segcam_client.
"""

from __future__ import annotations

import gzip
import re

import numpy as np

from .errors import InvalidInputError
from .geometry import Geometry

_TYPES = {
    "uchar": "u1", "unsigned char": "u1", "uint8": "u1", "uint8_t": "u1",
    "signed char": "i1", "int8": "i1", "int8_t": "i1",
    "short": "i2", "short int": "i2", "signed short": "i2", "int16": "i2", "int16_t": "i2",
    "ushort": "u2", "unsigned short": "u2", "uint16": "u2", "uint16_t": "u2",
    "int": "i4", "signed int": "i4", "int32": "i4", "int32_t": "i4",
    "uint": "u4", "unsigned int": "u4", "uint32": "u4", "uint32_t": "u4",
    "float": "f4", "double": "f8",
}
_NAME_OF = {"u1": "uchar", "i1": "signed char", "i2": "short", "u2": "ushort", "i4": "int", "u4": "uint",
            "f4": "float", "f8": "double"}
_SPACES = {"left-posterior-superior": "LPS", "lps": "LPS", "right-anterior-superior": "RAS", "ras": "RAS"}
_VECTOR = re.compile(r"\(([^)]*)\)")


def _vector_text(values) -> str:
    return "(" + ",".join(repr(float(v)) for v in values) + ")"


def write(path: str, array: np.ndarray, geometry: Geometry, compress: bool = True,
          comments: dict | None = None) -> None:
    """Writes a (K, J, I) array with its LPS geometry; ``comments`` become ``key:=value`` lines."""
    a = np.asarray(array)
    geometry.check_array(a, "NRRD array")
    code = f"{a.dtype.kind}{a.dtype.itemsize}"
    if code not in _NAME_OF:
        raise InvalidInputError(f"NRRD: dtype {a.dtype.name} is not supported; allowed: "
                                f"uint8, int8, int16, uint16, int32, uint32, float32, float64")
    axes = geometry.direction @ np.diag(geometry.spacing)
    lines = [
        "NRRD0004",
        "# Written by segcam_client",
        f"type: {_NAME_OF[code]}",
        "dimension: 3",
        "space: left-posterior-superior",
        "sizes: " + " ".join(str(n) for n in geometry.size),
        "space directions: " + " ".join(_vector_text(axes[:, a_]) for a_ in range(3)),
        "kinds: domain domain domain",
        "endian: little",
        f"encoding: {'gzip' if compress else 'raw'}",
        "space origin: " + _vector_text(geometry.origin),
    ]
    for key, value in (comments or {}).items():
        text = f"{key}:={value}"
        if "\n" in text:
            raise InvalidInputError(f"NRRD key/value '{key}' must be one line")
        lines.append(text)
    data = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
    if compress:
        data = gzip.compress(data, compresslevel=6)
    with open(path, "wb") as handle:
        handle.write(("\n".join(lines) + "\n\n").encode("ascii"))
        handle.write(data)


def read(path: str) -> tuple:
    """(array (K, J, I), Geometry in LPS, key/values) of a 3-D scalar NRRD file with an attached header."""
    with open(path, "rb") as handle:
        content = handle.read()
    if not content.startswith(b"NRRD000"):
        raise InvalidInputError(f"{path}: not a NRRD file (no NRRD000x magic)")
    end = content.find(b"\n\n")
    if end < 0:
        raise InvalidInputError(f"{path}: the NRRD header does not end with a blank line")
    header_text = content[:end].decode("latin-1")
    data = content[end + 2:]
    fields, values = {}, {}
    for line in header_text.split("\n")[1:]:
        line = line.rstrip("\r")
        if not line or line.startswith("#"):
            continue
        if ":=" in line:
            key, value = line.split(":=", 1)
            values[key] = value
        elif ": " in line:
            key, value = line.split(": ", 1)
            fields[key.strip().lower()] = value.strip()
        else:
            raise InvalidInputError(f"{path}: cannot parse NRRD header line '{line}'")
    if "data file" in fields or "datafile" in fields:
        raise InvalidInputError(f"{path}: detached NRRD data files are not supported; save as a single .nrrd")
    if fields.get("dimension") != "3":
        raise InvalidInputError(f"{path}: dimension {fields.get('dimension')} is not supported; 3-D scalar only")
    dtype_code = _TYPES.get(fields.get("type", "").lower())
    if dtype_code is None:
        raise InvalidInputError(f"{path}: NRRD type '{fields.get('type')}' is not supported")
    size = tuple(int(v) for v in fields.get("sizes", "").split())
    if len(size) != 3:
        raise InvalidInputError(f"{path}: sizes '{fields.get('sizes')}' must have three values")
    endian = "<" if fields.get("endian", "little") == "little" else ">"
    dtype = np.dtype(endian + dtype_code)
    encoding = fields.get("encoding", "raw").lower()
    if encoding in ("gzip", "gz"):
        data = gzip.decompress(data)
    elif encoding != "raw":
        raise InvalidInputError(f"{path}: NRRD encoding '{encoding}' is not supported; raw or gzip")
    count = size[0] * size[1] * size[2]
    if len(data) < count * dtype.itemsize:
        raise InvalidInputError(f"{path}: {len(data)} data bytes, {count * dtype.itemsize} expected")
    array = np.frombuffer(data[:count * dtype.itemsize], dtype=dtype).astype(dtype.newbyteorder("="))
    return array.reshape(size[::-1]), _geometry(path, fields, size), values


def _geometry(path: str, fields: dict, size: tuple) -> Geometry:
    space = _SPACES.get(fields.get("space", "").lower())
    if space is None:
        raise InvalidInputError(f"{path}: NRRD space '{fields.get('space')}' is not supported; "
                                f"left-posterior-superior or right-anterior-superior")
    vectors = _VECTOR.findall(fields.get("space directions", ""))
    if len(vectors) != 3:
        raise InvalidInputError(f"{path}: 'space directions' must give three vectors")
    axes = np.array([[float(v) for v in vec.split(",")] for vec in vectors]).T  # columns = i, j, k
    origin_text = _VECTOR.findall(fields.get("space origin", "(0,0,0)"))
    origin = np.array([float(v) for v in origin_text[0].split(",")]) if origin_text else np.zeros(3)
    if space == "RAS":
        flip = np.diag([-1.0, -1.0, 1.0])
        axes, origin = flip @ axes, flip @ origin
    m = np.eye(4)
    m[:3, :3] = axes
    m[:3, 3] = origin
    return Geometry.from_ijk_to_lps(m, size)
