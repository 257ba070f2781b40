"""Side-by-side comparison layout (VIEWER.md §8).

Two axial slice views with their own singleton tags, ``SegCamA`` and ``SegCamB``, optionally with a coronal pair
below them, so the standard Red/Yellow/Green views keep their content. Both views show the same CT as background,
heatmap A or B as foreground, and are linked (hot-linked) for synchronised scrolling, panning and zooming.
"""

from __future__ import annotations

from typing import Optional

VIEW_A = "SegCamA"
VIEW_B = "SegCamB"
VIEW_A_CORONAL = "SegCamACoronal"
VIEW_B_CORONAL = "SegCamBCoronal"
COMPARE_LAYOUT_ID = 50731
COMPARE_CORONAL_LAYOUT_ID = 50732
VIEW_COLORS = {VIEW_A: "#e69f00", VIEW_B: "#56b4e9", VIEW_A_CORONAL: "#e69f00", VIEW_B_CORONAL: "#56b4e9"}


def _view(tag: str, orientation: str, label: str) -> str:
    return (
        "  <item>\n"
        f'   <view class="vtkMRMLSliceNode" singletontag="{tag}">\n'
        f'    <property name="orientation" action="default">{orientation}</property>\n'
        f'    <property name="viewlabel" action="default">{label}</property>\n'
        f'    <property name="viewcolor" action="default">{VIEW_COLORS[tag]}</property>\n'
        "   </view>\n"
        "  </item>\n"
    )


def layout_xml(with_coronal: bool = False) -> str:
    """Slicer layout description: A | B axial, optionally over A | B coronal."""
    axial = '<layout type="horizontal" split="true">\n' + _view(VIEW_A, "Axial", "A") + _view(VIEW_B, "Axial", "B")
    axial += "</layout>"
    if not with_coronal:
        return axial + "\n"
    coronal = '<layout type="horizontal" split="true">\n'
    coronal += _view(VIEW_A_CORONAL, "Coronal", "A2") + _view(VIEW_B_CORONAL, "Coronal", "B2") + "</layout>"
    return (
        '<layout type="vertical" split="true">\n <item>\n'
        + axial
        + "\n </item>\n <item>\n"
        + coronal
        + "\n </item>\n</layout>\n"
    )


def view_names(with_coronal: bool = False):
    return (VIEW_A, VIEW_B, VIEW_A_CORONAL, VIEW_B_CORONAL) if with_coronal else (VIEW_A, VIEW_B)


def register_layouts() -> None:
    """Add both layout descriptions once per session."""
    import slicer

    layout_node = slicer.app.layoutManager().layoutLogic().GetLayoutNode()
    for layout_id, coronal in ((COMPARE_LAYOUT_ID, False), (COMPARE_CORONAL_LAYOUT_ID, True)):
        if not layout_node.IsLayoutDescription(layout_id):
            layout_node.AddLayoutDescription(layout_id, layout_xml(coronal))


def show_compare(background, heatmap_a, heatmap_b, opacity: float, with_coronal: bool = False) -> int:
    """Switch to the compare layout and fill its views; returns the previous layout id (for restore)."""
    import slicer

    register_layouts()
    layout_manager = slicer.app.layoutManager()
    previous = layout_manager.layout
    layout_manager.setLayout(COMPARE_CORONAL_LAYOUT_ID if with_coronal else COMPARE_LAYOUT_ID)
    pairs = [(VIEW_A, heatmap_a), (VIEW_B, heatmap_b)]
    if with_coronal:
        pairs += [(VIEW_A_CORONAL, heatmap_a), (VIEW_B_CORONAL, heatmap_b)]
    for tag, heatmap in pairs:
        widget = layout_manager.sliceWidget(tag)
        if widget is None:
            raise RuntimeError(f"The compare layout has no view '{tag}'.")
        composite = widget.mrmlSliceCompositeNode()
        was = composite.StartModify()
        composite.SetBackgroundVolumeID(background.GetID() if background else None)
        composite.SetForegroundVolumeID(heatmap.GetID() if heatmap else None)
        composite.SetForegroundOpacity(float(opacity))
        composite.SetLinkedControl(True)
        composite.SetHotLinkedControl(True)
        composite.EndModify(was)
        widget.sliceLogic().FitSliceToAll()
    return previous


def restore_layout(previous: Optional[int]) -> None:
    import slicer

    if previous is not None:
        slicer.app.layoutManager().setLayout(previous)
