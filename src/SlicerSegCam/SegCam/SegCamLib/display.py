"""Heatmap display: colour table, fixed window, lower threshold, opacity, outline, legend (VIEWER.md §7, §8).

One scale for every heatmap shown side by side: the same colour table, window, threshold and opacity.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple

import numpy as np

COLORMAPS = {
    "Inferno": "vtkMRMLColorTableNodeFileInferno.txt",
    "Viridis": "vtkMRMLColorTableNodeFileViridis.txt",
    "Magma": "vtkMRMLColorTableNodeFileMagma.txt",
    "Plasma": "vtkMRMLColorTableNodeFilePlasma.txt",
    "Cividis": "vtkMRMLColorTableNodeFileCividis.txt",
}
DEFAULT_COLORMAP = "Inferno"
DIVERGING_COLOR_NODE_ID = "vtkMRMLColorTableNodeFileDivergingBlueRed.txt"


# -- pure -----------------------------------------------------------------------------------------------------------


def color_node_id(name: str) -> str:
    return COLORMAPS.get(name, COLORMAPS[DEFAULT_COLORMAP])


def window_range(low: Optional[float], high: Optional[float]) -> Tuple[float, float]:
    """A usable (min, max) window: (0, 1) when unknown, widened when empty."""
    if low is None or high is None or not np.isfinite(low) or not np.isfinite(high):
        return 0.0, 1.0
    low, high = float(low), float(high)
    if high <= low:
        high = low + (abs(low) if low else 1.0)
    return low, high


def display_range(low: float, high: float) -> Tuple[float, float]:
    """The window for a heatmap with values in [low, high]: [0, high] for non-negative maps (so 0 is the bottom
    colour), symmetric for signed ones."""
    low, high = window_range(low, high)
    if low >= 0:
        return 0.0, max(high, 1e-12)
    bound = max(abs(low), abs(high))
    return -bound, bound


def threshold_value(fraction: float, low: float, high: float) -> float:
    """The lower threshold for a slider at ``fraction`` (0..1) of the window."""
    fraction = min(1.0, max(0.0, float(fraction)))
    return low + fraction * (high - low)


def symmetric_window(array: np.ndarray) -> Tuple[float, float]:
    bound = float(np.max(np.abs(array))) if array.size else 1.0
    bound = bound if bound > 0 else 1.0
    return -bound, bound


# -- Slicer -------------------------------------------------------------------------------------------------------


def configure_heatmap(
    node,
    value_range: Sequence[float],
    colormap: str = DEFAULT_COLORMAP,
    threshold_fraction: float = 0.0,
    interpolate: bool = False,
    color_node_id_override: Optional[str] = None,
) -> None:
    """Colour table, fixed window (no per-slab auto window, so no flicker), lower threshold, interpolation."""
    display = node.GetDisplayNode()
    if display is None:
        node.CreateDefaultDisplayNodes()
        display = node.GetDisplayNode()
    low, high = window_range(*value_range)
    was = display.StartModify()
    display.SetAndObserveColorNodeID(color_node_id_override or color_node_id(colormap))
    display.AutoWindowLevelOff()
    display.SetWindowLevelMinMax(low, high)
    display.AutoThresholdOff()
    display.SetApplyThreshold(1)
    display.SetThreshold(threshold_value(threshold_fraction, low, high), high)
    display.SetInterpolate(1 if interpolate else 0)
    display.EndModify(was)


def show_overlay(background, foreground, opacity: float) -> None:
    """CT as background, heatmap as foreground in the standard slice views."""
    import slicer

    slicer.util.setSliceViewerLayers(
        background=background, foreground=foreground, foregroundOpacity=float(opacity), fit=False
    )


def composite_nodes(view_names: Optional[Iterable[str]] = None):
    import slicer

    layout_manager = slicer.app.layoutManager()
    names = list(view_names) if view_names is not None else list(layout_manager.sliceViewNames())
    nodes = []
    for name in names:
        widget = layout_manager.sliceWidget(name)
        if widget is not None:
            nodes.append(widget.mrmlSliceCompositeNode())
    return nodes


def set_opacity(opacity: float, view_names: Optional[Iterable[str]] = None) -> None:
    for composite in composite_nodes(view_names):
        composite.SetForegroundOpacity(float(opacity))


def outline_segment(segmentation_node, segment_id: str) -> None:
    """The pixel-set segment as an outline only, so the heatmap under it stays visible."""
    if segmentation_node is None or not segment_id:
        return
    display = segmentation_node.GetDisplayNode()
    if display is None:
        segmentation_node.CreateDefaultDisplayNodes()
        display = segmentation_node.GetDisplayNode()
    display.SetSegmentVisibility(segment_id, True)
    display.SetSegmentOpacity2DFill(segment_id, 0.0)
    display.SetSegmentVisibility2DOutline(segment_id, True)


def add_legend(node):
    import slicer

    return slicer.modules.colors.logic().AddDefaultColorLegendDisplayNode(node)
