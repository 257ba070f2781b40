"""CT, segment and heatmap volumes in and out of MRML (VIEWER.md §6, §7).

Frames: Slicer stores IJK→RAS; the protocol carries IJK→LPS = diag(-1, -1, 1, 1) · IJK→RAS. Arrays are
``[k, j, i]`` (``slicer.util.arrayFromVolume``), C order, i fastest, which is the wire's voxel order.

The matrix helpers at the top are pure numpy and unit-tested; the functions below them use ``slicer`` (imported
inside) and run on the main thread only.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


# -- pure numpy ---------------------------------------------------------------------------------------------------


def ijk_to_lps(ijk_to_ras: np.ndarray) -> np.ndarray:
    """IJK→LPS from IJK→RAS (both 4x4)."""
    return LPS_FROM_RAS @ np.asarray(ijk_to_ras, dtype=float)


def ijk_to_ras_from_lps(ijk_to_lps_matrix: np.ndarray) -> np.ndarray:
    return LPS_FROM_RAS @ np.asarray(ijk_to_lps_matrix, dtype=float)  # diag(-1,-1,1,1) is its own inverse


def grid_parts(ijk_to_lps_matrix: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(origin, spacing, direction) of a 4x4 IJK→LPS: direction columns are the unit vectors of i, j, k."""
    matrix = np.asarray(ijk_to_lps_matrix, dtype=float)
    linear = matrix[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    if np.any(spacing <= 0):
        raise ValueError("IJK→LPS has a zero-length index axis")
    return matrix[:3, 3].copy(), spacing, linear / spacing


def matrix_from_parts(origin: Sequence[float], spacing: Sequence[float], direction: np.ndarray) -> np.ndarray:
    """The 4x4 IJK→(same frame) matrix origin + D · diag(spacing) · ijk."""
    matrix = np.eye(4)
    matrix[:3, :3] = np.asarray(direction, dtype=float) @ np.diag(np.asarray(spacing, dtype=float))
    matrix[:3, 3] = np.asarray(origin, dtype=float)
    return matrix


def same_matrix(a: np.ndarray, b: np.ndarray, tol: float = 1e-4) -> bool:
    return bool(np.allclose(np.asarray(a, float), np.asarray(b, float), atol=tol, rtol=0))


def bounds_outside(inner: Sequence[float], outer: Sequence[float], tol: float = 0.0) -> bool:
    """True when the box ``inner`` (xmin, xmax, ymin, ymax, zmin, zmax) sticks out of ``outer`` by more than tol."""
    for axis in range(3):
        if inner[2 * axis] < outer[2 * axis] - tol or inner[2 * axis + 1] > outer[2 * axis + 1] + tol:
            return True
    return False


# -- Slicer (main thread) -----------------------------------------------------------------------------------------


def ijk_to_ras_matrix(volume_node) -> np.ndarray:
    import slicer
    import vtk

    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    return slicer.util.arrayFromVTKMatrix(matrix)


def volume_dims(volume_node) -> Tuple[int, int, int]:
    """(I, J, K)."""
    image = volume_node.GetImageData()
    if image is None:
        raise ValueError(f"The volume '{volume_node.GetName()}' has no voxels.")
    return tuple(int(d) for d in image.GetDimensions())


def image_mtime(volume_node) -> int:
    image = volume_node.GetImageData()
    return int(image.GetMTime()) if image is not None else 0


def export_volume(volume_node) -> Tuple[np.ndarray, np.ndarray, Tuple[int, int, int]]:
    """(voxels [k, j, i] as an owned C-order copy, IJK→RAS, (I, J, K)): safe to hand to a worker thread."""
    import slicer

    if volume_node is None:
        raise ValueError("Select a CT volume.")
    if volume_node.GetImageData() is not None and volume_node.GetImageData().GetNumberOfScalarComponents() != 1:
        raise ValueError("The CT volume must have one component per voxel.")
    array = np.ascontiguousarray(np.array(slicer.util.arrayFromVolume(volume_node), copy=True))
    return array, ijk_to_ras_matrix(volume_node), volume_dims(volume_node)


def volume_geometry(volume_node):
    """The client's ``Geometry`` (LPS) of a volume node."""
    from segcam_client import Geometry

    return Geometry.from_ijk_to_ras(ijk_to_ras_matrix(volume_node), volume_dims(volume_node))


def segment_mask(segmentation_node, segment_id: str, reference_volume) -> Tuple[np.ndarray, List[str]]:
    """Boolean mask [k, j, i] of a segment on the CT's grid, and warnings.

    ``arrayFromSegmentBinaryLabelmap`` resamples a segmentation with its own geometry onto the CT's grid. Raises
    ValueError for an empty mask or a shape that differs from the CT's.
    """
    import slicer

    if segmentation_node is None or not segment_id:
        raise ValueError("Select a segment.")
    segment = segmentation_node.GetSegmentation().GetSegment(segment_id)
    if segment is None:
        raise ValueError(f"The segmentation has no segment with id '{segment_id}'.")
    labels = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation_node, segment_id, reference_volume)
    expected = slicer.util.arrayFromVolume(reference_volume).shape
    if labels is None or tuple(labels.shape) != tuple(expected):
        shape = None if labels is None else tuple(labels.shape)
        raise ValueError(f"The segment's mask has shape {shape}, the CT {tuple(expected)}.")
    mask = np.ascontiguousarray(labels != 0)
    if not mask.any():
        raise ValueError(f"The segment '{segment.GetName()}' has no voxel inside the CT.")
    warnings = []
    if segment_outside_volume(segmentation_node, segment_id, reference_volume):
        warnings.append(
            f"Part of the segment '{segment.GetName()}' lies outside the CT; only the voxels inside are used."
        )
    return mask, warnings


def segment_outside_volume(segmentation_node, segment_id: str, volume_node) -> bool:
    """Whether the segment's bounds reach beyond the CT's (checked when both share a parent transform)."""
    if segmentation_node.GetTransformNodeID() != volume_node.GetTransformNodeID():
        return False
    segment_bounds = [0.0] * 6
    segmentation_node.GetSegmentation().GetSegment(segment_id).GetBounds(segment_bounds)
    if segment_bounds[0] > segment_bounds[1]:  # empty
        return False
    volume_bounds = [0.0] * 6
    volume_node.GetBounds(volume_bounds)
    tolerance = float(max(volume_node.GetSpacing()))
    return bounds_outside(segment_bounds, volume_bounds, tolerance)


def create_heatmap_node(reference_volume, name: str):
    """A float32 volume of zeros on the CT's grid, under the CT's parent transform, with display nodes."""
    import slicer

    shape = slicer.util.arrayFromVolume(reference_volume).shape
    node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    node.CopyOrientation(reference_volume)
    slicer.util.updateVolumeFromArray(node, np.zeros(shape, dtype=np.float32))
    node.SetAndObserveTransformNodeID(reference_volume.GetTransformNodeID())
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    return node


def write_slab(node, k0: int, k1: int, data: np.ndarray) -> None:
    """Copy slices [k0, k1) into the node's voxels; call ``array_modified`` once per tick afterwards."""
    import slicer

    array = slicer.util.arrayFromVolume(node)
    if data.shape != array[k0:k1].shape:
        raise ValueError(f"slab {k0}:{k1} has shape {data.shape}, expected {array[k0:k1].shape}")
    array[k0:k1] = data


def array_modified(node) -> None:
    import slicer

    slicer.util.arrayFromVolumeModified(node)


def set_attributes(node, attributes) -> None:
    for key, value in attributes.items():
        node.SetAttribute(key, str(value))


def threshold_to_segment(heatmap_node, threshold: float, segmentation_node, name: str, reference_volume) -> str:
    """Add the segment "heatmap ≥ threshold" to ``segmentation_node``; returns its id."""
    import slicer

    mask = (slicer.util.arrayFromVolume(heatmap_node) >= threshold).astype(np.uint8)
    segment_id = segmentation_node.GetSegmentation().AddEmptySegment("", name)
    slicer.util.updateSegmentBinaryLabelmapFromArray(mask, segmentation_node, segment_id, reference_volume)
    return segment_id


def share_inside(heatmap: np.ndarray, mask: np.ndarray) -> Optional[float]:
    """Fraction of the positive heatmap energy inside ``mask`` (None when the heatmap has none). Pure numpy."""
    positive = np.clip(np.asarray(heatmap, dtype=np.float64), 0, None)
    total = positive.sum()
    if total <= 0:
        return None
    return float(positive[np.asarray(mask, dtype=bool)].sum() / total)
