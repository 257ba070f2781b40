"""Names, node attributes and the ``.segcam.json`` sidecar of saved heatmaps (VIEWER.md §9).

NRRD and NIfTI keep geometry and voxels but drop node attributes, so every saved heatmap gets a sidecar
``<name>.segcam.json`` with the same facts. Pure Python.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from typing import Any, Dict, Mapping, Optional, Sequence

ATTRIBUTE_PREFIX = "SegCam."
PARTIAL_SUFFIX = " (partial)"
SIDECAR_SUFFIX = ".segcam.json"
IMAGE_EXTENSIONS = (".nii.gz", ".nrrd", ".nhdr", ".nii", ".mha", ".mhd")
SIDECAR_FORMAT = "segcam-heatmap-provenance/1"


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def result_name(ct_name: str, method: str, target_class: str, layer: str, partial: bool = False) -> str:
    """"CT · method · class · layer", with " (partial)" for cancelled or failed streams."""
    name = " · ".join(part for part in (ct_name, method, target_class, layer) if part)
    return name + PARTIAL_SUFFIX if partial else name


def without_partial(name: str) -> str:
    return name[: -len(PARTIAL_SUFFIX)] if name.endswith(PARTIAL_SUFFIX) else name


def safe_file_stem(name: str) -> str:
    """A file name stem from a node name: the separators become '_', anything unusual '-'."""
    stem = name.replace(" · ", "_").replace("(", "").replace(")", "")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")
    return stem or "segcam-heatmap"


def attributes(
    *,
    method: str,
    model: str,
    target_class: str,
    layer: str,
    server_version: str,
    request_id: str,
    value_range: Sequence[float],
    complete: bool,
    created_utc: Optional[str] = None,
) -> Dict[str, str]:
    """Node attributes ``SegCam.*`` (strings, as MRML stores them)."""
    low, high = (float(value_range[0]), float(value_range[1])) if value_range else (0.0, 1.0)
    return {
        ATTRIBUTE_PREFIX + "method": method,
        ATTRIBUTE_PREFIX + "model": model,
        ATTRIBUTE_PREFIX + "class": target_class,
        ATTRIBUTE_PREFIX + "layer": layer,
        ATTRIBUTE_PREFIX + "serverVersion": server_version,
        ATTRIBUTE_PREFIX + "requestId": request_id or "",
        ATTRIBUTE_PREFIX + "createdUtc": created_utc or utc_now(),
        ATTRIBUTE_PREFIX + "valueRange": f"{low:.9g} {high:.9g}",
        ATTRIBUTE_PREFIX + "complete": "true" if complete else "false",
    }


def sidecar_path(image_path: str) -> str:
    """``heat.nii.gz`` → ``heat.segcam.json`` (the image extension, even a double one, is replaced)."""
    lower = image_path.lower()
    for extension in IMAGE_EXTENSIONS:
        if lower.endswith(extension):
            return image_path[: -len(extension)] + SIDECAR_SUFFIX
    return os.path.splitext(image_path)[0] + SIDECAR_SUFFIX


def sidecar(
    node_attributes: Mapping[str, str],
    *,
    image_file: str,
    name: str,
    metrics: Optional[Mapping[str, float]] = None,
    extra: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """The sidecar document: format, image file name, display name, the attributes without prefix, metrics."""
    facts = {
        key[len(ATTRIBUTE_PREFIX):]: value
        for key, value in node_attributes.items()
        if key.startswith(ATTRIBUTE_PREFIX)
    }
    if "valueRange" in facts:
        facts["valueRange"] = [float(v) for v in str(facts["valueRange"]).split()]
    if "complete" in facts:
        facts["complete"] = str(facts["complete"]).lower() == "true"
    document: Dict[str, Any] = {
        "format": SIDECAR_FORMAT,
        "image": os.path.basename(image_file),
        "name": name,
        "space": "LPS",
    }
    document.update(facts)
    if metrics:
        document["metrics"] = {key: float(value) for key, value in metrics.items()}
    if extra:
        document.update(extra)
    return document


def write_sidecar(path: str, document: Mapping[str, Any]) -> str:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    return path
