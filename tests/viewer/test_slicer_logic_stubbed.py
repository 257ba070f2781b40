"""SegCam.py's logic driven in plain Python: Slicer replaced by stubs, the client by a fake, MRML by recorders.

What Slicer itself does (arrays in nodes, display nodes, views) is covered by SegCamTest inside Slicer; this file
covers the glue: export → consent → cache → worker → pump → run → sink, cancel and scene close.
"""

import importlib
import threading
from types import SimpleNamespace

import numpy as np
import pytest

import slicer_stubs
from _viewer_paths import use_module_dir
from fake_client import FakeClient, FakeGeometry, SegCamError, values

use_module_dir()

SHAPE = (4, 3, 5)


class ManualTimer:
    def __init__(self, interval_ms, callback):
        self.active = False

    def start(self):
        self.active = True

    def stop(self):
        self.active = False

    def isActive(self):
        return self.active


@pytest.fixture
def segcam(monkeypatch):
    restore = slicer_stubs.install()
    try:
        module = importlib.import_module("SegCam")
        from SegCamLib import display, layouts, mrml_io

        record = SimpleNamespace(arrays={}, modified=[], shown=[], configured=[], threads=set())

        def create(reference, name):
            node = slicer_stubs.FakeNode(name)
            record.arrays[node.GetID()] = np.zeros(SHAPE, np.float32)
            return node

        def write(node, k0, k1, data):
            record.threads.add(threading.get_ident())
            record.arrays[node.GetID()][k0:k1] = data

        monkeypatch.setattr(mrml_io, "create_heatmap_node", create)
        monkeypatch.setattr(mrml_io, "write_slab", write)
        monkeypatch.setattr(mrml_io, "array_modified", lambda node: record.modified.append(node.GetID()))
        monkeypatch.setattr(display, "configure_heatmap", lambda node, rng, *a, **k: record.configured.append(rng))
        monkeypatch.setattr(display, "show_overlay", lambda ct, heat, opacity: record.shown.append(("single", heat)))
        monkeypatch.setattr(display, "add_legend", lambda node: None)
        monkeypatch.setattr(display, "outline_segment", lambda *a: None)
        monkeypatch.setattr(display, "set_opacity", lambda *a: None)
        monkeypatch.setattr(layouts, "show_compare", lambda ct, a, b, opacity, coronal: record.shown.append(("compare", a, b)) or 3)
        yield module, record
    finally:
        restore()


def make_logic(module, endpoint="127.0.0.1:5055", tls=False):
    from SegCamLib.settings import MemoryStore

    logic = module.SegCamLogic(settingsStore=MemoryStore(), environ={}, timerFactory=ManualTimer)
    logic.client = FakeClient(SHAPE)
    logic.connection = module.Connection(endpoint, tls, SimpleNamespace(version="0.4.0"), [])
    ct = slicer_stubs.FakeNode("CT")
    import slicer

    slicer.mrmlScene.add(ct)
    inputs = module.ExportedInputs(
        volumeNodeId=ct.GetID(), ctName="CT", array=np.zeros(SHAPE, np.int16), ijkToRas=np.eye(4),
        dims=SHAPE[::-1], geometry=FakeGeometry(SHAPE[::-1]), mask=np.ones(SHAPE, bool), segmentId="s1",
        groundTruth=np.ones(SHAPE, bool), groundTruthSegmentId="s1", imageMTime=7)
    return logic, inputs


@pytest.fixture(autouse=True)
def fake_pixel_set(monkeypatch):
    """startJob imports PixelSet from segcam_client; hand it a stand-in."""
    import sys
    import types

    client = types.ModuleType("segcam_client")
    client.PixelSet = SimpleNamespace(mask=lambda mask: ("mask", int(mask.sum())))
    monkeypatch.setitem(sys.modules, "segcam_client", client)


def test_module_imports_with_the_parameter_node_defaults(segcam):
    module, _ = segcam
    node = module.SegCamParameterNode(object())
    assert node.method == "seg-hires-grad-cam" and node.compareMethod == "seg-grad-cam"
    assert node.compare is True and node.colormap == "Inferno" and node.outputA is None
    assert 0 <= node.threshold <= 1 and 0 <= node.opacity <= 1


def test_compute_streams_into_nodes_on_this_thread_and_reuses_the_upload(segcam):
    module, record = segcam
    logic, inputs = make_logic(module)
    events = []
    logic.listeners.append(lambda run, kind: events.append(kind))
    run = logic.waitForRun(logic.startJob(inputs, "m", "tumour", ["seg-hires-grad-cam", "seg-grad-cam"]), 10)
    assert run.state == module.DONE, run.failure and run.failure.detail
    assert record.threads == {threading.get_ident()} and logic.offMainThreadWrites == 0
    for slot in run.slot_list():
        np.testing.assert_array_equal(record.arrays[slot.node.GetID()], values(slot.index, SHAPE))
        assert slot.node.GetAttribute("SegCam.complete") == "true"
        assert slot.node.GetAttribute("SegCam.requestId") == "req-ok"
        assert slot.node.GetAttribute("SegCam.metric.auprc") == "0.75"
        assert slot.node.GetName() == f"CT · {module.METHOD_LABELS[slot.method]} · tumour · enc1"
    assert ("compare", run.slot_list()[0].node, run.slot_list()[1].node) in record.shown
    assert {"uploaded", "heatmap", "progress", "metrics", "done"} <= set(events)
    assert not logic.isRunning() and not logic.pump.open_jobs
    assert logic.client.uploads == 1
    again = logic.waitForRun(logic.startJob(inputs, "m", "tumour", ["seg-grad-cam"]), 10)
    assert again.state == module.DONE and logic.client.uploads == 1 and not again.uploaded_fresh
    assert ("single", again.slot_list()[0].node) in record.shown
    inputs.imageMTime = 8  # the CT was edited: upload again
    logic.waitForRun(logic.startJob(inputs, "m", "tumour", ["seg-grad-cam"]), 10)
    assert logic.client.uploads == 2


def test_cancel_marks_partial_and_frees_the_ui(segcam):
    module, record = segcam
    logic, inputs = make_logic(module)
    gate = threading.Event()
    logic.client.slab_gate = lambda k: gate.wait(5) if k == 1 else None
    run = logic.startJob(inputs, "m", "tumour", ["seg-grad-cam"])
    assert logic.isRunning()
    with pytest.raises(RuntimeError):
        logic.startJob(inputs, "m", "tumour", ["seg-grad-cam"])  # one Compute at a time
    while not run.slots or run.slot_list()[0].slices_complete < 1:
        logic.pump.drain()
    logic.cancel()
    gate.set()
    logic.waitForRun(run, 10)
    slot = run.slot_list()[0]
    assert run.state == "cancelled" and not slot.complete
    assert slot.node.GetName().endswith(" (partial)")
    assert slot.node.GetAttribute("SegCam.complete") == "false"
    assert not logic.isRunning() and not logic.pump.running


def test_scene_close_abandons_the_run_and_stops_the_timer(segcam):
    module, record = segcam
    logic, inputs = make_logic(module)
    gate = threading.Event()
    logic.client.slab_gate = lambda k: gate.wait(5) if k == 1 else None
    run = logic.startJob(inputs, "m", "tumour", ["seg-grad-cam"])
    while not run.slots:
        logic.pump.drain()
    logic._onSceneStartClose(None, None)
    gate.set()
    assert run.finished and not logic.pump.running and len(logic.uploads) == 0
    written = dict((k, v.copy()) for k, v in record.arrays.items())
    import time

    time.sleep(0.1)
    logic.pump.drain()  # late messages of the closed job change nothing
    assert all(np.array_equal(written[k], record.arrays[k]) for k in written)


def test_server_errors_end_the_run_as_failed_with_the_server_text(segcam):
    module, _ = segcam
    logic, inputs = make_logic(module)
    logic.client.fail_with = SegCamError("InvalidInput", "unknown layer 'bad-layer'", "INVALID_ARGUMENT", "req-3")
    run = logic.waitForRun(logic.startJob(inputs, "m", "tumour", ["seg-grad-cam"], ["bad-layer"]), 10)
    assert run.state == "failed"
    assert "unknown layer 'bad-layer'" in run.failure.user_text and run.request_id == "req-3"


def test_consent_is_asked_once_per_remote_endpoint_and_refusal_sends_nothing(segcam):
    module, _ = segcam
    logic, inputs = make_logic(module, endpoint="gpu.example.org:5055", tls=True)
    answers = []
    logic.consentPrompt = lambda endpoint, tls: answers.append((endpoint, tls)) or False
    assert logic.startJob(inputs, "m", "tumour", ["seg-grad-cam"]) is None
    assert logic.client.uploads == 0 and not logic.pump.open_jobs
    logic.consentPrompt = lambda endpoint, tls: answers.append((endpoint, tls)) or True
    logic.waitForRun(logic.startJob(inputs, "m", "tumour", ["seg-grad-cam"]), 10)
    logic.waitForRun(logic.startJob(inputs, "m", "tumour", ["seg-grad-cam"]), 10)
    assert answers == [("gpu.example.org:5055", True)] * 2  # refused once, accepted once, then remembered


def test_local_runs_never_ask_for_consent(segcam):
    module, _ = segcam
    logic, inputs = make_logic(module)
    logic.consentPrompt = lambda endpoint, tls: pytest.fail("asked for consent on loopback")
    assert logic.waitForRun(logic.startJob(inputs, "m", "tumour", ["seg-grad-cam"]), 10).state == module.DONE
