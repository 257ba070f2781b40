"""The body of a Compute on the worker thread (VIEWER.md §5).

``run_cam_task`` uploads the CT when the server does not have it yet, starts the CAM stream, turns the client's
events into plain messages and hands them to ``emit(kind, payload)`` (``MessagePump.poster``). It never calls
``slicer``, ``qt`` or ``vtk``; its inputs were exported and copied on the main thread.

Message kinds and payloads:

=============  ==============================================================================================
``uploaded``   ``Uploaded(volume_id, deduplicated, reused)``
``progress``   the client's ``Progress`` event (stage, done, total, elapsed_seconds, remaining_seconds)
``heatmap``    ``HeatmapAnnounced(index, method, layer, geometry, min, max)``
``slab``       ``Slab(index, k0, k1, slices_complete, data)``; ``data`` is a float32 copy shaped (k1-k0, J, I)
``metrics``    ``Metrics(index, energy_inside, mean_dice, auprc)``
``summary``    the client's ``Summary`` event
``done``       the client's ``CamResult``
``cancelled``  None
``failed``     ``Failure(error, user_text, detail)``
=============  ==============================================================================================

Exactly one of ``done``, ``cancelled`` and ``failed`` ends every task.

The client's events are recognised by class name (``Progress``, ``HeatmapStarted``, ``SlabReceived``,
``MetricsReceived``, ``Summary``), so this module needs no import of ``segcam_client`` and the tests can use fakes.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, List, NamedTuple, Optional

import numpy as np

from SegCamLib import feedback


class Uploaded(NamedTuple):
    volume_id: str
    deduplicated: bool
    reused: bool


class HeatmapAnnounced(NamedTuple):
    index: int
    method: str
    layer: str
    geometry: Any
    min: float
    max: float


class Slab(NamedTuple):
    index: int
    k0: int
    k1: int
    slices_complete: int
    data: np.ndarray


class Metrics(NamedTuple):
    index: int
    energy_inside: float
    mean_dice: float
    auprc: float


class Failure(NamedTuple):
    error: Any
    user_text: str
    detail: str


class CancelToken:
    """Cancels the task from the main thread: before the stream exists (during the upload) and after."""

    def __init__(self):
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._job = None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            job = self._job
        if job is not None:
            job.cancel()  # thread-safe in the client (grpc call.cancel)

    def attach(self, job: Any) -> None:
        with self._lock:
            self._job = job
            cancelled = self._event.is_set()
        if cancelled:
            job.cancel()


@dataclass
class CamTask:
    """Everything the worker needs; arrays are copies owned by the task."""

    client: Any
    endpoint: str
    volume: np.ndarray  # (K, J, I)
    geometry: Any
    model: str
    target_class: str
    pixel_set: Any
    methods: List[str] = field(default_factory=list)
    layers: List[str] = field(default_factory=list)
    options: Any = None
    ground_truth: Any = None
    output_type: str = "float32"
    timeout: float = 900.0
    cached_volume_id: Optional[str] = None


def _index(value: Any) -> int:
    return int(value) if isinstance(value, (int, np.integer)) else int(getattr(value, "index"))


def _heatmap_array(job: Any, event: Any) -> Optional[np.ndarray]:
    """The client's (K, J, I) array that a SlabReceived refers to (by object or by index)."""
    heatmap = getattr(event, "heatmap", None)
    array = getattr(heatmap, "array", None)
    if array is not None:
        return array
    index = _index(heatmap)
    for holder in (getattr(job, "result", None), job):
        for candidate in getattr(holder, "heatmaps", None) or []:
            if int(getattr(candidate, "index", -1)) == index:
                return candidate.array
    return None


def slab_from_event(job: Any, event: Any) -> Slab:
    """Copy the slab an event announces (on the worker thread, where the client writes its arrays).

    The client's ``SlabReceived.values`` is a read-only view of its heatmap array; older or other clients may
    carry ``data`` or only the k range.
    """
    k0, k1 = int(event.k0), int(event.k1)
    data = getattr(event, "values", None)
    if data is None:
        data = getattr(event, "data", None)
    if data is None:
        array = _heatmap_array(job, event)
        if array is None:
            raise RuntimeError("the client event carries no slab data and the job exposes no heatmap arrays")
        data = array[k0:k1]
    data = np.array(data, dtype=np.float32, copy=True)
    return Slab(_index(event.heatmap), k0, k1, int(getattr(event, "slices_complete", k1)), data)


def translate(job: Any, event: Any):
    """(kind, payload) of a client event, or None for events the module does not use."""
    name = type(event).__name__
    if name == "Progress":
        return "progress", event
    if name == "HeatmapStarted":
        return "heatmap", HeatmapAnnounced(
            int(event.index), event.method, event.layer, event.geometry, float(event.min), float(event.max)
        )
    if name == "SlabReceived":
        if int(event.k1) <= int(event.k0):
            return None  # bytes arrived but no slice became whole yet
        return "slab", slab_from_event(job, event)
    if name == "MetricsReceived":
        return "metrics", Metrics(
            _index(event.heatmap), float(event.energy_inside), float(event.mean_dice), float(event.auprc)
        )
    if name == "Summary":
        return "summary", event
    return None


def _upload(task: CamTask, emit: Callable[[str, Any], Any]) -> str:
    result = task.client.upload_volume(task.volume, task.geometry, name=None)  # no node name: it may hold PHI
    emit("uploaded", Uploaded(result.volume_id, bool(getattr(result, "deduplicated", False)), False))
    return result.volume_id


def _volume_missing(error: Any, cached: bool) -> bool:
    """Whether a NOT_FOUND is about the volume (not the model, layer or class)."""
    text = str(getattr(error, "message", "") or error).lower()
    if "volume" in text:
        return True
    return cached and not any(word in text for word in ("model", "layer", "class"))


def run_cam_task(task: CamTask, emit: Callable[[str, Any], Any], token: CancelToken) -> None:
    """Run one Compute; ends with exactly one of done / cancelled / failed."""
    try:
        if task.cached_volume_id:
            volume_id = task.cached_volume_id
            emit("uploaded", Uploaded(volume_id, True, True))
        else:
            volume_id = _upload(task, emit)
        retried = False
        while True:
            if token.cancelled:
                emit("cancelled", None)
                return
            received = False
            try:
                job = task.client.start_cam(
                    volume_id,
                    task.model,
                    task.target_class,
                    task.pixel_set,
                    methods=task.methods or None,
                    layers=task.layers or None,
                    options=task.options,
                    output_type=task.output_type,
                    ground_truth=task.ground_truth,
                    timeout=task.timeout,
                )
                token.attach(job)
                for event in job:
                    received = True
                    message = translate(job, event)
                    if message is not None:
                        emit(*message)
                result = job.result
            except Exception as error:
                # The server forgot the volume (restart, idle timeout): upload again once, silently.
                if (
                    feedback.is_status(error, "NOT_FOUND")
                    and not received
                    and not retried
                    and not token.cancelled
                    and _volume_missing(error, volume_id == task.cached_volume_id)
                ):
                    retried = True
                    volume_id = _upload(task, emit)
                    continue
                raise
            if token.cancelled and not all(getattr(h, "complete", True) for h in getattr(result, "heatmaps", [])):
                emit("cancelled", None)
                return
            emit("done", result)
            return
    except Exception as error:
        if token.cancelled or feedback.is_status(error, "CANCELLED"):
            emit("cancelled", None)
            return
        emit(
            "failed",
            Failure(
                error,
                feedback.user_message(error, task.endpoint, task.timeout),
                feedback.detail_text(error, traceback.format_exc()),
            ),
        )
