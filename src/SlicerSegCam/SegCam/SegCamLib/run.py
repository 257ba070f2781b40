"""Main-thread state of one Compute: applies the worker's messages through a sink (VIEWER.md §5, §7, §9).

``CamRun.apply`` is the handler the pump calls for every message of the run's job; ``CamRun.flush`` runs once per
tick. MRML work is delegated to a *sink* (the module's logic in Slicer, a fake in the tests) with these methods:

* ``create_heatmap(run, slot) -> node``: a preallocated heatmap volume shown at once;
* ``write_slab(node, k0, k1, data)``: copy a slab into the node's array (no Modified yet);
* ``modified(node)``: one ``arrayFromVolumeModified`` per node and tick;
* ``finalize(run, slot)``: final window, attributes, name (with "(partial)" when incomplete);
* ``notify(run, kind)``: progress and state changes for the widget.

The geometry the server echoes is compared with the CT's within 1e-4 mm; a mismatch cancels the run, never
resamples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from SegCamLib.pump import Message
from SegCamLib.worker import CancelToken, Failure

RUNNING = "running"
DONE = "done"
CANCELLED = "cancelled"
FAILED = "failed"
GEOMETRY_TOLERANCE_MM = 1e-4


@dataclass
class RunRequest:
    """What the user asked for, kept for names, attributes and the sidecar."""

    endpoint: str
    ct_node_id: str
    ct_name: str
    model: str
    target_class: str
    methods: List[str]
    layers: List[str] = field(default_factory=list)
    server_version: str = ""
    segment_id: str = ""
    ground_truth_segment_id: str = ""


@dataclass
class HeatmapSlot:
    index: int
    method: str
    layer: str
    min: float
    max: float
    node: Any = None
    slices_complete: int = 0
    complete: bool = False
    metrics: Optional[Dict[str, float]] = None


class CamRun:
    def __init__(
        self,
        job_id: int,
        request: RunRequest,
        sink: Any,
        token: Optional[CancelToken] = None,
        ct_geometry: Any = None,
        clock=time.monotonic,
    ):
        self.job_id = job_id
        self.request = request
        self.sink = sink
        self.token = token or CancelToken()
        self.ct_geometry = ct_geometry
        self.slots: Dict[int, HeatmapSlot] = {}
        self.state = RUNNING
        self.progress: Any = None
        self.summary: Any = None
        self.result: Any = None
        self.failure: Optional[Failure] = None
        self.volume_id: Optional[str] = None
        self.uploaded_fresh = False
        self._dirty: Dict[int, Any] = {}
        self._clock = clock
        self.started = clock()
        self.finished_at: Optional[float] = None

    # -- queries ------------------------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.state != RUNNING

    @property
    def request_id(self) -> str:
        request_id = getattr(self.result, "request_id", None)
        if not request_id and self.failure is not None:
            request_id = getattr(self.failure.error, "request_id", None)
        return str(request_id or "")

    def slot_list(self) -> List[HeatmapSlot]:
        return [self.slots[i] for i in sorted(self.slots)]

    def metrics_rows(self) -> List[Dict[str, Any]]:
        return [
            {"method": slot.method, "layer": slot.layer, **slot.metrics}
            for slot in self.slot_list()
            if slot.metrics
        ]

    # -- control ------------------------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Ask the worker to stop; the run ends when its ``cancelled`` message arrives (or at once via
        ``abandon`` when the scene closes)."""
        self.token.cancel()

    def abandon(self) -> None:
        """Stop without waiting for the worker (scene close): slots keep complete=False; nothing is written."""
        self.token.cancel()
        if not self.finished:
            self.state = CANCELLED
            self.finished_at = self._clock()

    # -- messages -----------------------------------------------------------------------------------------------

    def apply(self, message: Message) -> None:
        if message.job_id != self.job_id or self.finished:
            return
        kind, payload = message.kind, message.payload
        if kind == "uploaded":
            self.volume_id = payload.volume_id
            self.uploaded_fresh = not payload.reused
            self.sink.notify(self, kind)
        elif kind == "progress":
            self.progress = payload
            self.sink.notify(self, kind)
        elif kind == "heatmap":
            self._announce(payload)
        elif kind == "slab":
            slot = self.slots.get(payload.index)
            if slot is None:
                self._fail_locally(f"slab for unannounced heatmap {payload.index}")
                return
            self.sink.write_slab(slot.node, payload.k0, payload.k1, payload.data)
            slot.slices_complete = max(slot.slices_complete, payload.slices_complete)
            self._dirty[payload.index] = slot.node
        elif kind == "metrics":
            slot = self.slots.get(payload.index)
            if slot is not None:
                slot.metrics = {
                    "energy_inside": payload.energy_inside,
                    "mean_dice": payload.mean_dice,
                    "auprc": payload.auprc,
                }
                self.sink.notify(self, kind)
        elif kind == "summary":
            self.summary = payload
        elif kind == "done":
            self.result = payload
            for heatmap in getattr(payload, "heatmaps", []) or []:
                slot = self.slots.get(int(heatmap.index))
                if slot is not None:
                    slot.complete = bool(getattr(heatmap, "complete", True))
                    slot.min = float(getattr(heatmap, "min", slot.min))
                    slot.max = float(getattr(heatmap, "max", slot.max))
            self._finish(DONE)
        elif kind == "cancelled":
            self._finish(CANCELLED)
        elif kind == "failed":
            self.failure = payload
            self._finish(FAILED)

    def flush(self) -> None:
        """Once per tick: one Modified per written node."""
        dirty, self._dirty = self._dirty, {}
        for node in dirty.values():
            self.sink.modified(node)
        if dirty:
            self.sink.notify(self, "slab")

    # -- internals ----------------------------------------------------------------------------------------------

    def _announce(self, header: Any) -> None:
        geometry = getattr(header, "geometry", None)
        if self.ct_geometry is not None and geometry is not None:
            same = getattr(self.ct_geometry, "same_grid", None)
            if same is not None and not same(geometry, tol=GEOMETRY_TOLERANCE_MM):
                self.token.cancel()
                self._fail_locally(
                    "The server's heatmap geometry differs from the CT's (more than 1e-4 mm); the heatmap was "
                    "not shown. Check that the server received this CT."
                )
                return
        slot = HeatmapSlot(header.index, header.method, header.layer, float(header.min), float(header.max))
        slot.node = self.sink.create_heatmap(self, slot)
        self.slots[slot.index] = slot
        self.sink.notify(self, "heatmap")

    def _fail_locally(self, text: str) -> None:
        error = RuntimeError(text)
        self.failure = Failure(error, text, text)
        self._finish(FAILED)

    def _finish(self, state: str) -> None:
        self.flush()
        self.state = state
        self.finished_at = self._clock()
        for slot in self.slot_list():
            self.sink.finalize(self, slot)
        self.sink.notify(self, state)
