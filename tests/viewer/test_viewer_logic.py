"""Module logic that runs without Slicer: worker, run state, texts, provenance, cache, dependencies, geometry."""

import json
import threading
import time
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pytest

from _viewer_paths import MODULE_DIR, use_module_dir
from fake_client import FakeClient, FakeGeometry, SegCamError, values

use_module_dir()

from SegCamLib import deps, display, feedback, layouts, mrml_io, provenance  # noqa: E402
from SegCamLib.pump import MessagePump, start_worker  # noqa: E402
from SegCamLib.run import CANCELLED, DONE, FAILED, CamRun, RunRequest  # noqa: E402
from SegCamLib.session import UploadCache, UploadKey, geometry_hash  # noqa: E402
from SegCamLib.worker import CamTask, CancelToken, run_cam_task  # noqa: E402

SHAPE = (4, 3, 5)  # (K, J, I)


def task(client, **overrides):
    fields = dict(client=client, endpoint="127.0.0.1:5055", volume=np.zeros(SHAPE, np.int16),
                  geometry=FakeGeometry(SHAPE[::-1]), model="m", target_class="tumour", pixel_set="mask",
                  methods=["seg-hires-grad-cam", "seg-grad-cam"])
    fields.update(overrides)
    return CamTask(**fields)


def collect(t, token=None):
    messages = []
    run_cam_task(t, lambda kind, payload=None: messages.append((kind, payload)), token or CancelToken())
    return messages


# -- worker -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slab_ref", ["index", "object", "values"])
def test_worker_uploads_streams_and_ends_with_done(slab_ref):
    client = FakeClient(SHAPE, slab_ref=slab_ref)
    client.empty_slabs = True  # slabs that complete no slice are not forwarded
    messages = collect(task(client))
    kinds = [k for k, _ in messages]
    assert kinds[0] == "uploaded" and kinds[-1] == "done"
    assert kinds.count("heatmap") == 2 and kinds.count("slab") == 2 * SHAPE[0]
    assert client.uploads == 1
    slabs = [p for k, p in messages if k == "slab"]
    for slab in slabs:
        assert slab.data.dtype == np.float32 and slab.data.shape == (1, 3, 5)
        np.testing.assert_array_equal(slab.data[0], values(slab.index, SHAPE)[slab.k0])
    # the copies are independent of the client's arrays
    slabs[0].data[...] = -1
    assert (messages[-1][1].heatmaps[0].array >= 0).all()


def test_worker_reuses_a_cached_volume_and_reuploads_once_on_not_found():
    client = FakeClient(SHAPE)
    client.stored.add("vol-cached")
    messages = collect(task(client, cached_volume_id="vol-cached"))
    assert client.uploads == 0
    assert messages[0] == ("uploaded", messages[0][1]) and messages[0][1].reused
    assert messages[-1][0] == "done"

    forgetful = FakeClient(SHAPE)  # the server restarted: the cached id is gone
    messages = collect(task(forgetful, cached_volume_id="vol-gone"))
    assert forgetful.uploads == 1
    assert [k for k, _ in messages].count("uploaded") == 2
    assert messages[-1][0] == "done"
    assert [c["volume_id"] for c in forgetful.calls] == ["vol-gone", "vol-1"]


def test_not_found_for_a_model_is_reported_not_retried():
    client = FakeClient(SHAPE)
    client.fail_with = SegCamError("NotFound", "model 'x' not found", "NOT_FOUND", "req-7")
    messages = collect(task(client))
    assert messages[-1][0] == "failed"
    failure = messages[-1][1]
    assert client.uploads == 1
    assert "model 'x' not found" in failure.user_text
    assert "req-7" in failure.detail and "Traceback" in failure.detail


def test_invalid_argument_is_a_typed_failure_with_the_server_text():
    client = FakeClient(SHAPE)
    client.fail_with = SegCamError("InvalidInput", "unknown layer 'bad-layer'", "INVALID_ARGUMENT", "req-9")
    kind, failure = collect(task(client))[-1]
    assert kind == "failed"
    assert isinstance(failure.error, SegCamError)
    assert "unknown layer 'bad-layer'" in failure.user_text


def test_cancel_mid_stream_ends_with_cancelled():
    client = FakeClient(SHAPE)
    token = CancelToken()
    client.slab_gate = lambda k: token.cancel() if k == 2 else None
    messages = collect(task(client), token)
    kinds = [k for k, _ in messages]
    assert kinds[-1] == "cancelled"
    assert "done" not in kinds and "failed" not in kinds
    assert kinds.count("slab") == 3  # the slab in flight when cancel was called still arrives


def test_cancel_before_the_stream_starts_sends_nothing():
    client = FakeClient(SHAPE)
    token = CancelToken()
    token.cancel()
    assert [k for k, _ in collect(task(client), token)] == ["uploaded", "cancelled"]
    assert client.calls == []


def test_cancel_token_cancels_a_job_attached_later():
    token = CancelToken()
    job = SimpleNamespace(cancelled=False)
    job.cancel = lambda: setattr(job, "cancelled", True)
    token.cancel()
    token.attach(job)
    assert job.cancelled


# -- run state through the pump and a real thread ---------------------------------------------------------------


class FakeSink:
    def __init__(self):
        self.nodes = {}
        self.modified_counts = {}
        self.events = []
        self.finalized = []
        self.thread_ids = set()

    def create_heatmap(self, run, slot):
        self.thread_ids.add(threading.get_ident())
        node = f"node-{slot.index}"
        self.nodes[node] = np.zeros(SHAPE, np.float32)
        return node

    def write_slab(self, node, k0, k1, data):
        self.thread_ids.add(threading.get_ident())
        self.nodes[node][k0:k1] = data

    def modified(self, node):
        self.modified_counts[node] = self.modified_counts.get(node, 0) + 1

    def finalize(self, run, slot):
        self.finalized.append((slot.index, slot.complete))

    def notify(self, run, kind):
        self.events.append(kind)


class ManualTimer:
    def __init__(self, interval_ms, callback):
        self.callback, self.active = callback, False

    def start(self):
        self.active = True

    def stop(self):
        self.active = False

    def isActive(self):
        return self.active


def start_run(client, sink, ct_geometry=None, token=None, **overrides):
    runs = {}

    def handle(message):
        run = runs[message.job_id]
        run.apply(message)
        if run.finished:
            pump.close_job(run.job_id)

    def flush():
        for run in runs.values():
            if not run.finished:
                run.flush()

    pump = MessagePump(handle, flush, timer_factory=ManualTimer, budget_s=10.0)
    token = token or CancelToken()
    job_id = pump.open_job()
    request = RunRequest("127.0.0.1:5055", "vtkMRMLScalarVolumeNode1", "CT", "m", "tumour",
                         ["seg-hires-grad-cam", "seg-grad-cam"])
    run = CamRun(job_id, request, sink, token, ct_geometry or FakeGeometry(SHAPE[::-1]))
    runs[job_id] = run
    t = task(client, **overrides)
    thread = start_worker("test-worker", lambda: run_cam_task(t, pump.poster(job_id), token))
    return pump, run, thread


def drain_until_finished(pump, run, timeout=10.0):
    deadline = time.monotonic() + timeout
    ticks = 0
    while not run.finished:
        assert time.monotonic() < deadline, "run did not finish"
        ticks += 1
        if not pump.drain():
            time.sleep(0.001)
    return ticks


def test_run_writes_every_slab_on_the_draining_thread_and_finishes_complete():
    sink = FakeSink()
    pump, run, thread = start_run(FakeClient(SHAPE), sink, ground_truth="gt")
    drain_until_finished(pump, run)
    thread.join(5)
    assert run.state == DONE
    assert sink.thread_ids == {threading.get_ident()}
    for slot in run.slot_list():
        assert slot.complete and slot.slices_complete == SHAPE[0]
        np.testing.assert_array_equal(sink.nodes[slot.node], values(slot.index, SHAPE))
    assert sink.finalized == [(0, True), (1, True)]
    assert [row["method"] for row in run.metrics_rows()] == ["seg-hires-grad-cam", "seg-grad-cam"]
    assert run.request_id == "req-ok"
    assert not pump.running and not pump.open_jobs


def test_modified_is_called_once_per_tick_not_once_per_slab():
    sink = FakeSink()
    gate = threading.Event()
    client = FakeClient((8, 3, 5))
    client.slab_gate = lambda k: gate.wait(5) if k == 0 else None
    pump, run, thread = start_run(client, sink, volume=np.zeros((8, 3, 5), np.int16),
                                  geometry=FakeGeometry((5, 3, 8)), methods=["seg-grad-cam"])
    run.ct_geometry = FakeGeometry((5, 3, 8))
    gate.set()
    thread.join(5)  # every message is queued before the first tick
    pump.drain()
    assert run.state == DONE
    assert sink.modified_counts == {"node-0": 1}


def test_cancelled_run_keeps_partial_heatmaps():
    sink = FakeSink()
    client = FakeClient(SHAPE)
    token = CancelToken()
    client.slab_gate = lambda k: token.cancel() if k == 2 else None  # what CamRun.cancel does
    pump, run, thread = start_run(client, sink, token=token)
    drain_until_finished(pump, run)
    assert run.state == CANCELLED
    assert sink.finalized == [(0, False)]
    assert run.slot_list()[0].slices_complete == 3


def test_geometry_mismatch_fails_the_run_and_cancels_the_stream():
    sink = FakeSink()
    client = FakeClient(SHAPE)
    client.echo_geometry = FakeGeometry(SHAPE[::-1], shift=0.5)  # half a millimetre off
    pump, run, thread = start_run(client, sink)
    drain_until_finished(pump, run)
    assert run.state == FAILED
    assert "geometry" in run.failure.user_text
    assert sink.nodes == {}  # nothing shown
    assert run.token.cancelled
    thread.join(5)


def test_messages_after_the_end_are_ignored():
    sink = FakeSink()
    run = CamRun(1, RunRequest("e", "n", "CT", "m", "c", ["a"]), sink)
    from SegCamLib.pump import Message

    run.apply(Message(1, "cancelled", None))
    run.apply(Message(1, "progress", SimpleNamespace(stage="x")))
    run.apply(Message(2, "progress", SimpleNamespace(stage="x")))
    assert run.state == CANCELLED and run.progress is None


def test_abandon_ends_at_once_without_touching_nodes():
    sink = FakeSink()
    run = CamRun(1, RunRequest("e", "n", "CT", "m", "c", ["a"]), sink)
    run.abandon()
    assert run.finished and run.token.cancelled and sink.finalized == []


# -- texts ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, needle",
    [
        ("UNAVAILABLE", "Cannot reach gpu:5055"),
        ("DEADLINE_EXCEEDED", "No answer from gpu:5055 in 900 s"),
        ("UNAUTHENTICATED", "token"),
        ("PERMISSION_DENIED", "token"),
        ("INVALID_ARGUMENT", "unknown layer"),
        ("FAILED_PRECONDITION", "unknown layer"),
        ("RESOURCE_EXHAUSTED", "smaller region"),
        ("UNIMPLEMENTED", "Update the server"),
        ("INTERNAL", "See the details"),
        ("UNKNOWN", "See the details"),
    ],
)
def test_every_status_has_its_user_message(code, needle):
    error = SegCamError("Kind", "unknown layer 'x'", code, "req-1")
    assert needle in feedback.user_message(error, "gpu:5055", 900)


def test_cancelled_shows_nothing_and_status_is_read_from_enums_or_kinds():
    assert feedback.user_message(SegCamError("Cancelled", "x", "CANCELLED")) == ""
    enum_like = SimpleNamespace(name="NOT_FOUND")
    assert feedback.status_name(SegCamError("k", "m", enum_like)) == "NOT_FOUND"
    assert feedback.status_name(SegCamError("ResourceLimit", "m", None)) == "RESOURCE_LIMIT"
    assert feedback.status_name(ValueError("plain")) == ""


def test_detail_text_carries_status_message_request_id_and_traceback():
    text = feedback.detail_text(SegCamError("InvalidInput", "bad layer", "INVALID_ARGUMENT", "req-42"), "Traceback: x")
    for part in ("INVALID_ARGUMENT", "InvalidInput", "bad layer", "req-42", "Traceback: x"):
        assert part in text


def test_progress_lines_and_fractions():
    p = SimpleNamespace(stage="explain", done=12, total=48, elapsed_seconds=14.2, remaining_seconds=42.0)
    assert feedback.format_progress(p) == "explain 12/48 · 25% · 0:14 elapsed · about 0:42 left"
    assert feedback.progress_fraction(p) == 0.25
    q = SimpleNamespace(stage="queued", done=0, total=0, elapsed_seconds=3725.0, remaining_seconds=None)
    assert feedback.progress_fraction(q) is None
    assert feedback.format_progress(q) == "queued · 1:02:05 elapsed"


@pytest.mark.parametrize(
    "server, plugin, ok, side",
    [
        ("0.4.0", "0.4.0", True, None),
        ("0.4.7", "0.4.0", True, None),
        ("0.3.0", "0.4.0", True, "server"),
        ("0.5.0", "0.4.0", True, "SegCam extension"),
        ("1.0.0", "0.4.0", False, "SegCam extension"),
        ("1.2.0", "2.0.0", False, "server"),
    ],
)
def test_version_check_names_the_side_to_update(server, plugin, ok, side):
    compatible, note = feedback.check_server_version(server, plugin)
    assert compatible is ok
    if side is None:
        assert note == ""
    else:
        assert f"update the {side}" in note


# -- provenance -----------------------------------------------------------------------------------------------------


def test_names_attributes_and_sidecar(tmp_path):
    name = provenance.result_name("CT 1", "Seg-HiRes-Grad CAM", "tumour", "enc1", partial=True)
    assert name == "CT 1 · Seg-HiRes-Grad CAM · tumour · enc1 (partial)"
    assert provenance.without_partial(name) == "CT 1 · Seg-HiRes-Grad CAM · tumour · enc1"
    assert provenance.safe_file_stem(name) == "CT-1_Seg-HiRes-Grad-CAM_tumour_enc1-partial"
    attributes = provenance.attributes(method="seg-hires-grad-cam", model="demo", target_class="tumour",
                                       layer="enc1", server_version="0.4.0", request_id="req-1",
                                       value_range=(0.0, 0.9), complete=False, created_utc="2026-01-01T00:00:00Z")
    assert attributes["SegCam.complete"] == "false" and attributes["SegCam.valueRange"] == "0 0.9"
    assert set(attributes) == {"SegCam." + k for k in ("method", "model", "class", "layer", "serverVersion",
                                                       "requestId", "createdUtc", "valueRange", "complete")}
    image = tmp_path / "heat.nii.gz"
    sidecar_path = provenance.sidecar_path(str(image))
    assert sidecar_path.endswith("heat.segcam.json")
    assert provenance.sidecar_path("a/b.nrrd").endswith("a/b.segcam.json")
    document = provenance.sidecar(attributes, image_file=str(image), name=name, metrics={"auprc": 0.5})
    provenance.write_sidecar(sidecar_path, document)
    raw = open(sidecar_path, "rb").read()
    assert b"\r\n" not in raw
    loaded = json.loads(raw)
    assert loaded["image"] == "heat.nii.gz" and loaded["complete"] is False
    assert loaded["valueRange"] == [0.0, 0.9] and loaded["metrics"] == {"auprc": 0.5}
    assert loaded["space"] == "LPS" and loaded["method"] == "seg-hires-grad-cam"


# -- upload cache ---------------------------------------------------------------------------------------------------


def test_upload_cache_keys_on_endpoint_node_mtime_and_geometry():
    cache = UploadCache()
    m = np.eye(4)
    key = UploadKey("e:1", "vtkMRMLScalarVolumeNode1", 100, geometry_hash(m, (5, 3, 4), "int16"))
    assert cache.get(key) is None
    assert cache.put(key, "vol-1") == []
    assert cache.get(key) == "vol-1"
    assert cache.get(key._replace(endpoint="e:2")) is None
    edited = key._replace(image_mtime=101)
    assert cache.get(edited) is None
    assert cache.put(edited, "vol-2") == ["vol-1"]  # the older upload of the node is replaced
    assert len(cache) == 1
    moved = m.copy()
    moved[0, 3] = 1e-3
    assert geometry_hash(moved, (5, 3, 4), "int16") != key.geometry_hash
    assert geometry_hash(m, (5, 3, 4), "float32") != key.geometry_hash
    cache.forget_volume("vol-2")
    assert cache.get(edited) is None
    cache.put(key, "vol-1")
    assert cache.clear() == ["vol-1"] and len(cache) == 0


# -- dependencies ---------------------------------------------------------------------------------------------------


def test_requirements_file_and_version_checks():
    requirements = deps.parse_requirements((MODULE_DIR / "Resources" / "requirements.txt").read_text())
    assert [(r.name, r.minimum) for r in requirements] == [("grpcio", "1.51"), ("protobuf", "4.21")]
    installed = {"grpcio": "1.51.1", "protobuf": "3.20.3"}

    def version_of(name):
        if name not in installed:
            raise LookupError(name)
        return installed[name]

    missing = deps.find_missing(requirements, version_of)
    assert [(m.requirement.name, m.installed) for m in missing] == [("protobuf", "3.20.3")]
    assert deps.pip_arguments(missing) == ["protobuf>=4.21"]  # grpcio, already fine, is left alone
    assert deps.pip_arguments(missing, "/wheels") == ["--no-index", "--find-links", "/wheels", "protobuf>=4.21"]
    assert "installed 3.20.3" in deps.describe(missing)
    del installed["grpcio"]
    assert {m.requirement.name for m in deps.find_missing(requirements, version_of)} == {"grpcio", "protobuf"}
    assert deps.satisfies("4.21.12", "4.21") and deps.satisfies("1.51", "1.51.0") and not deps.satisfies("1.50.9", "1.51")
    assert deps.satisfies("1.60.0rc1", "1.51")


# -- geometry, display, layout --------------------------------------------------------------------------------------


def oblique_ijk_to_ras():
    a = np.radians(25.0)
    rotation = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    return mrml_io.matrix_from_parts((-12.5, 30.0, 7.25), (0.8, 0.9, 2.5), rotation)


def test_ijk_to_lps_flips_x_and_y_and_round_trips():
    ras = oblique_ijk_to_ras()
    lps = mrml_io.ijk_to_lps(ras)
    voxel = np.array([3, 4, 5, 1.0])
    assert np.allclose((lps @ voxel)[:3], (ras @ voxel)[:3] * [-1, -1, 1])
    origin, spacing, direction = mrml_io.grid_parts(lps)
    assert np.allclose(spacing, (0.8, 0.9, 2.5))
    assert np.allclose(direction.T @ direction, np.eye(3))
    assert np.allclose(origin, (12.5, -30.0, 7.25))
    assert mrml_io.same_matrix(mrml_io.ijk_to_ras_from_lps(mrml_io.matrix_from_parts(origin, spacing, direction)), ras)


def test_bounds_and_share_inside():
    assert not mrml_io.bounds_outside((0, 1, 0, 1, 0, 1), (0, 2, 0, 2, 0, 2))
    assert mrml_io.bounds_outside((-1, 1, 0, 1, 0, 1), (0, 2, 0, 2, 0, 2))
    assert not mrml_io.bounds_outside((-1, 1, 0, 1, 0, 1), (0, 2, 0, 2, 0, 2), tol=1.0)
    heat = np.array([[[0.5, 0.5, -1.0, 0.0]]])
    mask = np.array([[[True, False, True, False]]])
    assert mrml_io.share_inside(heat, mask) == 0.5
    assert mrml_io.share_inside(np.zeros((1, 1, 2)), np.ones((1, 1, 2), bool)) is None


def test_display_ranges_and_thresholds():
    assert display.window_range(None, None) == (0.0, 1.0)
    assert display.window_range(0.5, 0.5) == (0.5, 1.0)
    assert display.display_range(0.1, 0.9) == (0.0, 0.9)
    assert display.display_range(-0.2, 0.6) == (-0.6, 0.6)
    assert display.threshold_value(0.25, 0.0, 0.8) == pytest.approx(0.2)
    assert display.threshold_value(2.0, 0.0, 1.0) == 1.0
    assert display.symmetric_window(np.array([-0.3, 0.2])) == (-0.3, 0.3)
    assert display.color_node_id("Viridis") == "vtkMRMLColorTableNodeFileViridis.txt"
    assert display.color_node_id("Rainbow") == display.COLORMAPS[display.DEFAULT_COLORMAP]


@pytest.mark.parametrize("coronal", [False, True])
def test_compare_layout_has_its_own_singleton_views(coronal):
    root = ET.fromstring(layouts.layout_xml(coronal))
    views = root.findall(".//view")
    tags = [v.get("singletontag") for v in views]
    assert tags == list(layouts.view_names(coronal))
    assert not {"Red", "Yellow", "Green"} & set(tags)
    assert all(v.get("class") == "vtkMRMLSliceNode" for v in views)
    orientations = [v.find("property[@name='orientation']").text for v in views]
    assert orientations[:2] == ["Axial", "Axial"]
    if coronal:
        assert orientations[2:] == ["Coronal", "Coronal"]
    assert layouts.COMPARE_LAYOUT_ID > 1000 and layouts.COMPARE_CORONAL_LAYOUT_ID > 1000
