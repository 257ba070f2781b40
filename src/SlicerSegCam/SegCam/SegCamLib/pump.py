"""Worker-to-main-thread message pump (VIEWER.md §5).

A worker thread never touches MRML, VTK or Qt. It puts ``Message(job_id, kind, payload)`` on a queue; a timer on
the main thread drains the queue within a time budget, hands each message to a handler and calls ``flush`` once per
tick (where the module calls ``arrayFromVolumeModified``), so a fast stream costs one render per tick, not one per
slab.

Messages of jobs that are not open any more (cancelled, finished, scene closed) are dropped, at ``post`` when
possible and again at ``drain``. The timer stops by itself once no job is open, so a closed scene leaves no timer
running.

The timer and the clock are injected: ``qt_timer_factory`` in Slicer, a fake in the unit tests.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Callable, NamedTuple, Optional

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_MS = 50
DEFAULT_BUDGET_S = 0.03


class Message(NamedTuple):
    """One worker event: the job it belongs to, what happened, and its data (plain Python and numpy only)."""

    job_id: int
    kind: str
    payload: Any


def qt_timer_factory(interval_ms: int, callback: Callable[[], Any]):
    """A ``qt.QTimer`` calling ``callback`` every ``interval_ms`` on the main thread."""
    import qt

    timer = qt.QTimer()
    timer.setInterval(interval_ms)
    timer.connect("timeout()", callback)
    return timer


class MessagePump:
    """Queue between worker threads and the main thread.

    ``post`` is safe from any thread; everything else belongs to the main thread.
    """

    def __init__(
        self,
        handler: Callable[[Message], Any],
        flush: Optional[Callable[[], Any]] = None,
        *,
        timer_factory: Optional[Callable[[int, Callable[[], Any]], Any]] = None,
        clock: Callable[[], float] = time.monotonic,
        interval_ms: int = DEFAULT_INTERVAL_MS,
        budget_s: float = DEFAULT_BUDGET_S,
    ):
        self._handler = handler
        self._flush = flush
        self._timer_factory = timer_factory or qt_timer_factory
        self._clock = clock
        self.interval_ms = interval_ms
        self.budget_s = budget_s
        self._queue: "queue.Queue[Message]" = queue.Queue()
        self._lock = threading.Lock()
        self._active: set = set()
        self._next_id = 1
        self._timer = None
        self.dropped = 0
        self.handled = 0
        self.ticks = 0

    # -- jobs ---------------------------------------------------------------------------------------------------

    def open_job(self) -> int:
        """A fresh job id whose messages will be delivered; starts the timer."""
        with self._lock:
            job_id = self._next_id
            self._next_id += 1
            self._active.add(job_id)
        self._start_timer()
        return job_id

    def close_job(self, job_id: int) -> None:
        """Stop delivering messages of ``job_id`` (already queued ones are dropped)."""
        with self._lock:
            self._active.discard(job_id)

    def is_open(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._active

    @property
    def open_jobs(self) -> frozenset:
        with self._lock:
            return frozenset(self._active)

    # -- any thread ---------------------------------------------------------------------------------------------

    def post(self, job_id: int, kind: str, payload: Any = None) -> bool:
        """Queue a message; False (and nothing queued) when the job is no longer open."""
        with self._lock:
            if job_id not in self._active:
                self.dropped += 1
                return False
        self._queue.put(Message(job_id, kind, payload))
        return True

    def poster(self, job_id: int) -> Callable[[str, Any], bool]:
        """``emit(kind, payload)`` bound to one job, for the worker."""
        return lambda kind, payload=None: self.post(job_id, kind, payload)

    # -- main thread --------------------------------------------------------------------------------------------

    def drain(self) -> int:
        """One tick: deliver queued messages until the queue is empty or the time budget is spent.

        At least one message is delivered per tick, so progress never stalls. ``flush`` runs once if anything
        was delivered. Returns the number of messages delivered.
        """
        self.ticks += 1
        deadline = self._clock() + self.budget_s
        delivered = 0
        while delivered == 0 or self._clock() < deadline:
            try:
                message = self._queue.get_nowait()
            except queue.Empty:
                break
            if not self.is_open(message.job_id):
                self.dropped += 1
                continue
            try:
                self._handler(message)
            except Exception:  # a broken message must not stop the timer: log it with its traceback
                logger.exception("SegCam: handling %s of job %d failed", message.kind, message.job_id)
            delivered += 1
        self.handled += delivered
        if delivered and self._flush is not None:
            try:
                self._flush()
            except Exception:
                logger.exception("SegCam: flush failed")
        with self._lock:
            idle = not self._active
        if idle:
            self._purge()
            self._stop_timer()
        return delivered

    def pending(self) -> int:
        return self._queue.qsize()

    @property
    def running(self) -> bool:
        """True while the timer is active."""
        return self._timer is not None and bool(self._timer.isActive())

    def shutdown(self) -> None:
        """Close every job, drop queued messages and stop the timer (scene close, module cleanup)."""
        with self._lock:
            self._active.clear()
        self._purge()
        self._stop_timer()

    # -- internals ----------------------------------------------------------------------------------------------

    def _purge(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return
            self.dropped += 1

    def _start_timer(self) -> None:
        if self._timer is None:
            self._timer = self._timer_factory(self.interval_ms, self.drain)
        if not self._timer.isActive():
            self._timer.start()

    def _stop_timer(self) -> None:
        if self._timer is not None and self._timer.isActive():
            self._timer.stop()


def start_worker(name: str, target: Callable[[], Any]) -> threading.Thread:
    """Run ``target`` on a daemon thread (Slicer must be able to exit while a call hangs)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread
