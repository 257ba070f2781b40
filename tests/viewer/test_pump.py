"""The worker → main-thread pump against a fake clock and a fake timer (no Qt)."""

import threading

import pytest

from _viewer_paths import use_module_dir

use_module_dir()

from SegCamLib.pump import Message, MessagePump  # noqa: E402


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class FakeTimer:
    """Stands in for qt.QTimer: fire() is one timeout."""

    def __init__(self, interval_ms, callback):
        self.interval_ms = interval_ms
        self.callback = callback
        self.active = False
        self.starts = 0

    def start(self):
        self.active = True
        self.starts += 1

    def stop(self):
        self.active = False

    def isActive(self):
        return self.active

    def fire(self):
        assert self.active, "a stopped timer does not fire"
        return self.callback()


class Harness:
    def __init__(self, cost_per_message=0.0, budget_s=0.03):
        self.clock = FakeClock()
        self.timers = []
        self.seen = []
        self.flushes = 0
        self.cost = cost_per_message

        def factory(interval_ms, callback):
            timer = FakeTimer(interval_ms, callback)
            self.timers.append(timer)
            return timer

        self.pump = MessagePump(self.handle, self.flush, timer_factory=factory, clock=self.clock, budget_s=budget_s)

    def handle(self, message):
        self.seen.append(message)
        self.clock.now += self.cost

    def flush(self):
        self.flushes += 1

    @property
    def timer(self):
        assert len(self.timers) == 1
        return self.timers[0]


def test_open_job_starts_the_timer_and_messages_arrive_in_order():
    h = Harness()
    job = h.pump.open_job()
    assert h.pump.running and h.timer.interval_ms == 50
    for i in range(5):
        assert h.pump.post(job, "slab", i)
    assert h.timer.fire() == 5
    assert [m.payload for m in h.seen] == [0, 1, 2, 3, 4]
    assert all(isinstance(m, Message) and m.job_id == job for m in h.seen)


def test_flush_runs_once_per_tick_and_not_on_empty_ticks():
    h = Harness()
    job = h.pump.open_job()
    for i in range(10):
        h.pump.post(job, "slab", i)
    h.timer.fire()
    assert h.flushes == 1
    h.timer.fire()
    assert h.flushes == 1


def test_time_budget_splits_a_burst_over_ticks_but_each_tick_delivers_one():
    h = Harness(cost_per_message=0.01, budget_s=0.03)
    job = h.pump.open_job()
    for i in range(7):
        h.pump.post(job, "slab", i)
    delivered = [h.timer.fire() for _ in range(3)]
    assert delivered == [3, 3, 1]
    assert h.flushes == 3

    slow = Harness(cost_per_message=1.0, budget_s=0.03)  # one message exceeds the budget: still progresses
    job = slow.pump.open_job()
    slow.pump.post(job, "slab", 0)
    slow.pump.post(job, "slab", 1)
    assert slow.timer.fire() == 1
    assert slow.timer.fire() == 1


def test_messages_of_closed_or_unknown_jobs_are_dropped():
    h = Harness()
    old = h.pump.open_job()
    new = h.pump.open_job()
    assert old != new
    h.pump.post(old, "slab", "stale-before-close")
    h.pump.close_job(old)
    assert not h.pump.post(old, "slab", "stale-after-close")
    assert not h.pump.post(999, "slab", "unknown")
    h.pump.post(new, "slab", "fresh")
    h.timer.fire()
    assert [m.payload for m in h.seen] == ["fresh"]
    assert h.pump.dropped == 3


def test_timer_stops_when_the_last_job_closes_and_restarts_for_the_next():
    h = Harness()
    job = h.pump.open_job()
    h.pump.post(job, "done", None)

    def handle(message):
        h.seen.append(message)
        h.pump.close_job(message.job_id)  # what the logic does on done/cancelled/failed

    h.pump._handler = handle
    h.timer.fire()
    assert not h.pump.running
    second = h.pump.open_job()
    assert h.pump.running and h.timer.starts == 2
    assert second == job + 1


def test_shutdown_closes_everything_and_stops_the_timer():
    h = Harness()
    job = h.pump.open_job()
    for i in range(3):
        h.pump.post(job, "slab", i)
    h.pump.shutdown()
    assert not h.pump.running
    assert h.pump.pending() == 0
    assert not h.pump.post(job, "slab", 4)
    assert h.pump.drain() == 0
    assert h.seen == []


def test_a_failing_handler_is_logged_and_the_pump_goes_on(caplog):
    h = Harness()
    job = h.pump.open_job()

    def handle(message):
        if message.payload == "bad":
            raise ValueError("broken slab")
        h.seen.append(message)

    h.pump._handler = handle
    h.pump.post(job, "slab", "bad")
    h.pump.post(job, "slab", "good")
    with caplog.at_level("ERROR"):
        assert h.timer.fire() == 2
    assert [m.payload for m in h.seen] == ["good"]
    assert "broken slab" in caplog.text
    assert h.pump.running


def test_post_is_safe_from_many_threads():
    h = Harness()
    job = h.pump.open_job()
    per_thread = 500

    def worker(tag):
        emit = h.pump.poster(job)
        for i in range(per_thread):
            emit("slab", (tag, i))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    while h.pump.pending():
        h.timer.fire()
    assert len(h.seen) == 4 * per_thread
    for tag in range(4):  # per-thread order is kept
        assert [m.payload[1] for m in h.seen if m.payload[0] == tag] == list(range(per_thread))


def test_default_timer_factory_needs_qt_only_when_a_job_opens():
    pump = MessagePump(lambda m: None)  # constructing needs no Qt
    assert not pump.running
    with pytest.raises(ImportError):
        pump.open_job()  # qt is absent outside Slicer
