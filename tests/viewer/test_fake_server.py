"""The in-process fake server used by the module's self-test, over real gRPC on 127.0.0.1.

Stubs: ``segcam_client._gen`` when the client package is present (one copy of the descriptors per process);
otherwise freshly generated from proto/ with Debian's protoc and grpc_python_plugin. When the client is present
the worker also runs end to end against the fake server through the real ``SegCamClient``.
"""

import importlib
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from _viewer_paths import CLIENT_DIR, PROTO, use_module_dir

use_module_dir()
grpc = pytest.importorskip("grpc", reason="python3-grpcio is not installed")

from SegCamLib.fake_server import (  # noqa: E402
    BAD_LAYER,
    FAKE_METHODS,
    FAKE_MODEL_ID,
    FakeSegCamServer,
    expected_heatmap,
)

SIZE = (6, 5, 4)  # (I, J, K)


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    if CLIENT_DIR.exists():
        pb2 = importlib.import_module("segcam_client._gen.segcam_pb2")
        pb2_grpc = importlib.import_module("segcam_client._gen.segcam_pb2_grpc")
        return pb2, pb2_grpc
    protoc, plugin = shutil.which("protoc"), shutil.which("grpc_python_plugin")
    if not protoc or not plugin:
        pytest.skip("protoc / grpc_python_plugin (protobuf-compiler, protobuf-compiler-grpc) are not installed")
    out = tmp_path_factory.mktemp("stubs")
    shutil.copy(PROTO, out / "segcam_fake_test.proto")
    subprocess.run([protoc, f"-I{out}", f"--python_out={out}", f"--grpc_out={out}",
                    f"--plugin=protoc-gen-grpc={plugin}", str(out / "segcam_fake_test.proto")], check=True)
    sys.path.insert(0, str(out))
    return (importlib.import_module("segcam_fake_test_pb2"), importlib.import_module("segcam_fake_test_pb2_grpc"))


@pytest.fixture
def server(stubs):
    fake = FakeSegCamServer(*stubs).start()
    yield fake
    fake.stop()


def channel_stub(server, stubs):
    channel = grpc.insecure_channel(server.endpoint)
    return channel, stubs[1].SegCamServiceStub(channel)


def upload(stub, pb2, volume, chunk=100):
    header = pb2.VolumeHeader(geometry=pb2.VolumeGeometry(size=list(SIZE), spacing=[0.8, 0.9, 2.5],
                                                           origin=[1.0, -2.0, 3.0]),
                              voxel_type=pb2.VOXEL_TYPE_INT16)
    data = volume.astype("<i2").tobytes()

    def messages():
        yield pb2.UploadVolumeRequest(header=header)
        for offset in range(0, len(data), chunk):
            yield pb2.UploadVolumeRequest(chunk=pb2.VolumeChunk(offset=offset, data=data[offset:offset + chunk]))

    return stub.UploadVolume(messages(), timeout=10)


def volume():
    return np.arange(np.prod(SIZE), dtype=np.int16).reshape(SIZE[::-1])


def test_info_models_upload_and_stream(server, stubs):
    pb2, _ = stubs
    channel, stub = channel_stub(server, stubs)
    with channel:
        info = stub.GetServerInfo(pb2.GetServerInfoRequest(), timeout=10)
        assert info.protocol == "segcam.v1" and list(info.methods) == FAKE_METHODS
        models = stub.ListModels(pb2.ListModelsRequest(), timeout=10).models
        assert [m.id for m in models] == [FAKE_MODEL_ID] and models[0].layers[0].role == "encoder-1"
        first = upload(stub, pb2, volume())
        again = upload(stub, pb2, volume(), chunk=37)
        assert first.volume_id == again.volume_id and again.deduplicated and not first.deduplicated
        request = pb2.ComputeCamRequest(volume=pb2.VolumeSource(volume_id=first.volume_id), model=FAKE_MODEL_ID,
                                        target_class="tumour", methods=["seg-hires-grad-cam", "seg-grad-cam"],
                                        ground_truth=pb2.PixelSet(all=pb2.AllPixels()))
        call = stub.ComputeCam(request, timeout=10)
        heatmaps, metrics, kinds = {}, {}, []
        for response in call:
            kind = response.WhichOneof("event")
            kinds.append(kind)
            if kind == "heatmap":
                assert list(response.heatmap.geometry.size) == list(SIZE)
                heatmaps[response.heatmap.index] = np.zeros(int(np.prod(SIZE)), np.float32)
            elif kind == "slab":
                slab = response.slab
                values = np.frombuffer(slab.data, "<f4")
                heatmaps[slab.heatmap][slab.voxel_offset:slab.voxel_offset + values.size] = values
            elif kind == "metrics":
                metrics[response.metrics.heatmap] = response.metrics.auprc
        assert kinds[-1] == "summary" and set(metrics) == {0, 1}
        assert dict(call.initial_metadata())["segcam-request-id"].startswith("fake-")
        for index, flat in heatmaps.items():
            np.testing.assert_array_equal(flat.reshape(SIZE[::-1]), expected_heatmap(index, SIZE))


@pytest.mark.parametrize(
    "case, code",
    [("unknown volume", "NOT_FOUND"), ("bad layer", "INVALID_ARGUMENT"), ("unknown model", "NOT_FOUND")],
)
def test_error_statuses(server, stubs, case, code):
    pb2, _ = stubs
    channel, stub = channel_stub(server, stubs)
    with channel:
        volume_id = upload(stub, pb2, volume()).volume_id
        request = pb2.ComputeCamRequest(volume=pb2.VolumeSource(volume_id=volume_id), model=FAKE_MODEL_ID,
                                        target_class="tumour")
        if case == "unknown volume":
            request.volume.volume_id = "vol-missing"
        elif case == "bad layer":
            request.layers.append(BAD_LAYER)
        else:
            request.model = "nope"
        with pytest.raises(grpc.RpcError) as raised:
            list(stub.ComputeCam(request, timeout=10))
        assert raised.value.code().name == code
        assert dict(raised.value.trailing_metadata()).get("segcam-error-kind")


def test_token_is_required_when_configured(stubs):
    pb2, pb2_grpc = stubs
    with FakeSegCamServer(pb2, pb2_grpc, token="abc") as fake:
        with grpc.insecure_channel(fake.endpoint) as channel:
            stub = pb2_grpc.SegCamServiceStub(channel)
            with pytest.raises(grpc.RpcError) as raised:
                stub.GetServerInfo(pb2.GetServerInfoRequest(), timeout=10)
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
            info = stub.GetServerInfo(pb2.GetServerInfoRequest(), timeout=10,
                                      metadata=(("authorization", "Bearer abc"),))
            assert info.auth_required


def test_cancel_mid_stream_stops_the_server_side(stubs):
    pb2, pb2_grpc = stubs
    with FakeSegCamServer(pb2, pb2_grpc, slab_delay_s=0.05) as fake:
        with grpc.insecure_channel(fake.endpoint) as channel:
            stub = pb2_grpc.SegCamServiceStub(channel)
            volume_id = upload(stub, pb2, volume()).volume_id
            call = stub.ComputeCam(pb2.ComputeCamRequest(volume=pb2.VolumeSource(volume_id=volume_id),
                                                         model=FAKE_MODEL_ID, target_class="1"), timeout=10)
            slabs = 0
            with pytest.raises(grpc.RpcError) as raised:
                for response in call:
                    if response.WhichOneof("event") == "slab":
                        slabs += 1
                        call.cancel()
            assert raised.value.code() == grpc.StatusCode.CANCELLED
            assert slabs == 1
            deadline = time.monotonic() + 3
            while fake.cancelled_streams == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert fake.cancelled_streams == 1


# -- the worker through the real client (when the client package is present) ----------------------------------------


def real_client():
    if not CLIENT_DIR.exists():
        pytest.skip("segcam_client is not in this checkout yet (written separately): end-to-end worker test skipped")
    import segcam_client

    return segcam_client


def test_worker_end_to_end_with_the_real_client(server):
    segcam_client = real_client()
    from SegCamLib.pump import MessagePump
    from SegCamLib.run import DONE, CamRun, RunRequest
    from SegCamLib.worker import CamTask, CancelToken, run_cam_task

    from test_viewer_logic import FakeSink, ManualTimer

    geometry = segcam_client.Geometry(size=SIZE, spacing=(0.8, 0.9, 2.5), origin=(1.0, -2.0, 3.0),
                                      direction=np.eye(3))
    mask = np.zeros(SIZE[::-1], bool)
    mask[1:3, 1:4, 2:5] = True
    client = segcam_client.SegCamClient(endpoint=server.endpoint)
    try:
        runs = {}
        pump = MessagePump(lambda m: runs[m.job_id].apply(m), lambda: [r.flush() for r in runs.values()],
                           timer_factory=ManualTimer, budget_s=10.0)
        sink = FakeSink()
        sink.nodes = {}
        token = CancelToken()
        job_id = pump.open_job()
        run = CamRun(job_id, RunRequest(server.endpoint, "n", "CT", FAKE_MODEL_ID, "tumour",
                                        ["seg-hires-grad-cam", "seg-grad-cam"]), sink, token, geometry)
        runs[job_id] = run

        def create(run_, slot):
            sink.nodes[f"node-{slot.index}"] = np.zeros(SIZE[::-1], np.float32)
            return f"node-{slot.index}"

        sink.create_heatmap = create
        task = CamTask(client=client, endpoint=server.endpoint, volume=volume(), geometry=geometry,
                       model=FAKE_MODEL_ID, target_class="tumour", pixel_set=segcam_client.PixelSet.mask(mask),
                       methods=["seg-hires-grad-cam", "seg-grad-cam"], ground_truth=segcam_client.PixelSet.mask(mask))
        worker = threading.Thread(target=run_cam_task, args=(task, pump.poster(job_id), token), daemon=True)
        worker.start()
        deadline = time.monotonic() + 20
        while not run.finished:
            assert time.monotonic() < deadline
            if not pump.drain():
                time.sleep(0.005)
        assert run.state == DONE, run.failure and run.failure.detail
        for slot in run.slot_list():
            assert slot.complete and slot.metrics
            np.testing.assert_array_equal(sink.nodes[slot.node], expected_heatmap(slot.index, SIZE))
    finally:
        client.close()
