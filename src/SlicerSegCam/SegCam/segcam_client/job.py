"""CamJob: one running ComputeCam stream, iterated by a worker thread and cancellable from any thread.

docs/VIEWER.md §5: the worker iterates the job and posts events to the GUI thread; the GUI thread may call
:meth:`CamJob.cancel` at any time (grpc's ``call.cancel()`` is thread-safe), after which the worker's iteration raises
SegCamError(kind="cancelled") with the heatmaps received so far (complete=False) in ``partial_result``.
"""

from __future__ import annotations

import logging
import threading

import grpc
import numpy as np

from .datatypes import (CamResult, Heatmap, HeatmapCompleted, HeatmapStarted, MetricsReceived, Progress, SlabReceived,
                        Summary)
from .errors import (KIND_GEOMETRY, KIND_PROTOCOL, REQUEST_ID_KEY, SegCamError, _metadata_value, from_rpc_error)
from .geometry import Geometry
from .wire import VOXEL_TYPE_FLOAT32, VOXEL_TYPE_UINT8, SlabAssembler

_LOG = logging.getLogger(__name__)


class CamJob:
    """A ComputeCam call in flight.

    Iterate it once (``for event in job``) to receive :class:`Progress`, :class:`HeatmapStarted`,
    :class:`SlabReceived`, :class:`HeatmapCompleted`, :class:`MetricsReceived` and :class:`Summary` events while
    ``job.result`` fills up; or call :meth:`wait`. Use as a context manager to cancel on exit if the stream did not
    finish.
    """

    def __init__(self, call, expected_geometry: Geometry | None, endpoint: str | None, timeout: float | None) -> None:
        self._call = call
        self._expected = expected_geometry
        self._endpoint = endpoint
        self._timeout = timeout
        self._cancel_requested = threading.Event()
        self._finished = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()
        self._assemblers: dict = {}
        self.result = CamResult()
        self.error: SegCamError | None = None

    # ---- control --------------------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Cancels the call; safe from any thread and idempotent. The iterating thread sees kind "cancelled"."""
        self._cancel_requested.set()
        self._call.cancel()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested.is_set()

    @property
    def done(self) -> bool:
        """True once the stream ended (successfully, failed or cancelled)."""
        return self._finished.is_set()

    def wait_done(self, timeout: float | None = None) -> bool:
        """Blocks until the iterating thread has finished; False on timeout."""
        return self._finished.wait(timeout)

    @property
    def request_id(self) -> str | None:
        return self.result.request_id

    def __enter__(self) -> "CamJob":
        return self

    def __exit__(self, *exc) -> None:
        if not self.done:
            self.cancel()

    # ---- iteration ----------------------------------------------------------------------------------------

    def __iter__(self):
        with self._start_lock:
            if self._started:
                raise RuntimeError("a CamJob can be iterated only once; read job.result for what arrived")
            self._started = True
        return self._events()

    def wait(self, on_progress=None, on_slab=None) -> CamResult:
        """Consumes the stream; calls on_progress(Progress) and on_slab(SlabReceived); returns the result.

        Raises SegCamError on failure or cancellation (``err.partial_result`` holds what arrived). If a callback
        raises (or the thread is interrupted), the call is cancelled and the exception propagates.
        """
        try:
            for event in self:
                if on_progress is not None and isinstance(event, Progress):
                    on_progress(event)
                elif on_slab is not None and isinstance(event, SlabReceived):
                    on_slab(event)
        except SegCamError:
            raise
        except BaseException:
            self.cancel()
            raise
        return self.result

    def _events(self):
        try:
            for response in self._call:
                if self.result.request_id is None:
                    self.result.request_id = self._header_request_id()
                event = self._handle(response)
                if event is not None:
                    yield event
            self._finish()
        except grpc.RpcError as err:
            raise self._fail(from_rpc_error(err, self._endpoint, self._timeout,
                                            cancelled_by_client=self._cancel_requested.is_set())) from None
        except SegCamError as err:
            self._call.cancel()
            raise self._fail(err)
        except GeneratorExit:
            # The consumer stopped iterating (break, garbage collection): nothing will read the rest.
            self.cancel()
            raise
        finally:
            self._finished.set()

    def _header_request_id(self) -> str | None:
        try:
            return _metadata_value(self._call.initial_metadata(), REQUEST_ID_KEY)
        except grpc.RpcError:
            return None

    def _fail(self, err: SegCamError) -> SegCamError:
        if err.request_id is None:
            err.request_id = self.result.request_id
        if self.result.request_id is None:
            self.result.request_id = err.request_id
        for heatmap in self.result.heatmaps:
            heatmap.complete = False
        err.partial_result = self.result
        self.error = err
        return err

    def _finish(self) -> None:
        # A cancel that lost the race with the end of the stream changes nothing: the server succeeded, and the
        # result is whole (never report failure when the server succeeded, docs/VIEWER.md §10).
        for index in sorted(self._assemblers):
            self._assemblers[index].check_complete()
        for heatmap in self.result.heatmaps:
            heatmap.complete = True
        trailing_id = _metadata_value(self._call.trailing_metadata(), REQUEST_ID_KEY)
        self.result.request_id = self.result.request_id or trailing_id

    # ---- messages -------------------------------------------------------------------------------------------

    def _handle(self, response):
        which = response.WhichOneof("event")
        if which == "progress":
            return Progress.from_proto(response.progress)
        if which == "heatmap":
            return self._on_header(response.heatmap)
        if which == "slab":
            return self._on_slab(response.slab)
        if which == "complete":
            c = response.complete
            heatmap = next((h for h in self.result.heatmaps if h.index == c.heatmap), None)
            if heatmap is None:
                raise SegCamError(KIND_PROTOCOL, f"heatmap {c.heatmap} completed but was never announced")
            heatmap.min, heatmap.max = float(c.min), float(c.max)
            return HeatmapCompleted(heatmap=int(c.heatmap), min=heatmap.min, max=heatmap.max)
        if which == "metrics":
            m = response.metrics
            if m.heatmap not in self._assemblers:
                raise SegCamError(KIND_PROTOCOL, f"metrics for heatmap {m.heatmap}, which was never announced")
            event = MetricsReceived(heatmap=int(m.heatmap), energy_inside=float(m.energy_inside),
                                    mean_dice=float(m.mean_dice), auprc=float(m.auprc))
            self.result.metrics[event.heatmap] = {"energy_inside": event.energy_inside,
                                                  "mean_dice": event.mean_dice, "auprc": event.auprc}
            return event
        if which == "summary":
            self.result.summary = Summary.from_proto(response.summary)
            return self.result.summary
        _LOG.debug("ignoring a ComputeCamResponse event this client does not know (%s)", which)
        return None

    def _on_header(self, header) -> HeatmapStarted:
        index = int(header.index)
        if index < 0 or index in self._assemblers:
            raise SegCamError(KIND_PROTOCOL, f"heatmap header with index {index} is negative or repeated")
        if header.voxel_type not in (VOXEL_TYPE_FLOAT32, VOXEL_TYPE_UINT8):
            raise SegCamError(KIND_PROTOCOL, f"heatmap {index} has voxel type {header.voxel_type}; "
                                             f"float32 (7) or uint8 (1) expected")
        try:
            geometry = Geometry.from_proto(header.geometry)
        except SegCamError as exc:
            raise SegCamError(KIND_PROTOCOL, f"heatmap {index} has an invalid geometry: {exc.message}") from None
        if self._expected is not None:
            problem = self._expected.mismatch(geometry)
            if problem:
                raise SegCamError(KIND_GEOMETRY, f"heatmap {index} ({header.method}) is not on the image grid: "
                                                 f"{problem}; the client never resamples")
        quantised = header.voxel_type == VOXEL_TYPE_UINT8
        assembler = SlabAssembler(geometry.shape, header.voxel_type,
                                  scale=header.scale if quantised else 1.0,
                                  offset=header.offset if quantised else 0.0,
                                  out_dtype=np.float32, name=f"heatmap {index} ({header.method})",
                                  first_slice=header.first_slice,
                                  slice_count=header.slice_count if header.HasField("slice_count") else None)
        self._assemblers[index] = assembler
        heatmap = Heatmap(index=index, method=header.method, layer=header.layer, array=assembler.array,
                          geometry=geometry, min=float(header.min), max=float(header.max),
                          first_slice=assembler.first_slice, slice_count=assembler.slice_count)
        self.result.heatmaps.append(heatmap)
        self.result.heatmaps.sort(key=lambda h: h.index)
        return HeatmapStarted(index=index, method=header.method, layer=header.layer, geometry=geometry,
                              min=float(header.min), max=float(header.max), first_slice=assembler.first_slice,
                              slice_count=assembler.slice_count, streaming=bool(header.streaming))

    def _on_slab(self, slab) -> SlabReceived:
        assembler = self._assemblers.get(int(slab.heatmap))
        if assembler is None:
            raise SegCamError(KIND_PROTOCOL, f"slab for heatmap {slab.heatmap} before its header")
        k0, k1 = assembler.add(slab.voxel_offset, slab.data)
        complete = assembler.slices_complete
        if slab.slices_complete > complete:
            _LOG.debug("server reports %d whole slices of heatmap %d, %d arrived", slab.slices_complete,
                       slab.heatmap, complete)
        values = assembler.array[k0:k1]
        values = values.view()
        values.setflags(write=False)
        return SlabReceived(heatmap=int(slab.heatmap), k0=k0, k1=k1, slices_complete=complete, values=values)
