"""SegCamClient against an in-process fake SegCamService on 127.0.0.1:0: streaming, progress, cancel, deadlines,
token metadata, message limits and the mapping of every docs/VIEWER.md §10 status to SegCamError."""

import socket
import threading

import grpc
import numpy as np
import pytest

from fake_segcam import NoCamServicer, start_server
from segcam_client import (CamOptions, Geometry, HeatmapStarted, InvalidInputError, MetricsReceived, PixelSet,
                           Progress, SegCamClient, SegCamError, SlabReceived, Summary)
from segcam_client._gen import segcam_pb2 as pb
from test_geometry import OBLIQUE

GEOMETRY = Geometry((12, 10, 8), (0.8, 0.8, 2.5), (-50.0, 12.0, 100.0), OBLIQUE)


def ct(dtype=np.float32):
    k, j, i = np.meshgrid(*[np.arange(n) for n in GEOMETRY.shape], indexing="ij")
    return (i + 12 * j + 120 * k).astype(dtype)  # unique values: shows any axis mix-up


def box():
    return PixelSet.box((2, 2, 1), (8, 7, 5))


# ---- info, models, upload ---------------------------------------------------------------------------------------

def test_server_info_and_models(fake):
    servicer, endpoint = fake
    with SegCamClient(endpoint) as client:
        info = client.server_info()
        assert info.protocol == "segcam.v1" and info.methods == ("seg-grad-cam", "seg-hires-grad-cam")
        assert info.limits.max_message_bytes == 4 << 20 and info.limits.max_inline_bytes == 1 << 20
        models = client.list_models()
    assert [m.id for m in models] == ["fake-2d"]
    model = models[0]
    assert model.classes == ("background", "kidney", "tumour") and model.layers[0].role == "bottleneck"
    assert model.layers[0].shape == (1, 64, 8, 8) and model.layers[0].op_type == "Relu"
    assert model.class_index("tumour") == 2 and model.class_index(1) == 1
    with pytest.raises(InvalidInputError, match="allowed: background, kidney, tumour"):
        model.class_index("liver")


@pytest.mark.parametrize("protocol, side", [("segcam.v2", "update the SegCam plugin"),
                                            ("segcam.v0", "update the SegCam server"),
                                            ("", "update the SegCam server")])
def test_incompatible_protocol_names_the_side_to_update(fake, protocol, side):
    servicer, endpoint = fake
    servicer.protocol = protocol
    with SegCamClient(endpoint) as client, pytest.raises(SegCamError, match=side) as info:
        client.server_info()
    assert info.value.kind == "incompatible"


def test_upload_chunks_dedup_and_delete(fake):
    servicer, endpoint = fake
    with SegCamClient(endpoint) as client:
        first = client.upload_volume(ct(np.int16), GEOMETRY, chunk_bytes=500)
        assert first.bytes_received == GEOMETRY.voxel_count * 2 and not first.deduplicated
        assert len(first.sha256) == 64
        offsets = [o for o, _ in servicer.upload_chunks]
        assert all(n <= 500 for _, n in servicer.upload_chunks) and offsets == list(range(0, 1920, 500))
        second = client.upload_volume(ct(np.int16), GEOMETRY)
        assert second.volume_id == first.volume_id and second.deduplicated
        other = client.upload_volume(ct(np.float32), GEOMETRY)
        assert other.volume_id != first.volume_id
        # Stored bytes are little-endian, i fastest.
        header, data = servicer.volumes[first.volume_id]
        assert list(header.geometry.size) == [12, 10, 8] and header.voxel_type == pb.VOXEL_TYPE_INT16
        assert np.frombuffer(data, "<i2")[:3].tolist() == [0, 1, 2] and header.name == ""
        assert client.delete_volume(first.volume_id) is True
        assert client.delete_volume(first.volume_id) is False


def test_upload_rejects_wrong_shapes_dtypes_and_chunks(fake):
    _, endpoint = fake
    with SegCamClient(endpoint, max_message_bytes=1 << 20) as client:
        with pytest.raises(InvalidInputError, match=r"\(K, J, I\) = \(8, 10, 12\)"):
            client.upload_volume(ct().transpose(2, 1, 0), GEOMETRY)
        with pytest.raises(InvalidInputError, match="int64 is not supported; allowed: uint8"):
            client.upload_volume(ct(np.int64), GEOMETRY)
        with pytest.raises(InvalidInputError, match="chunk_bytes 2097152 is out of range: allowed 1..1032192"):
            client.upload_volume(ct(), GEOMETRY, chunk_bytes=2 << 20)
        with pytest.raises(InvalidInputError, match="must be a segcam_client.Geometry"):
            client.upload_volume(ct(), {"size": (12, 10, 8)})


# ---- streaming --------------------------------------------------------------------------------------------------

def test_compute_cam_streams_two_methods_with_progress_and_metrics(fake):
    servicer, endpoint = fake
    servicer.slices_per_slab = 3
    progress, slabs = [], []
    with SegCamClient(endpoint) as client:
        volume = client.upload_volume(ct(), GEOMETRY).volume_id
        result = client.compute_cam(volume, "fake-2d", "tumour", box(), methods="seg-grad-cam,seg-hires-grad-cam",
                                    ground_truth=PixelSet.mask(ct() > 500), on_progress=progress.append,
                                    on_slab=slabs.append, options=CamOptions(normalization="max"))
    assert [h.method for h in result.heatmaps] == ["seg-grad-cam", "seg-hires-grad-cam"]
    for m, heatmap in enumerate(result.heatmaps):
        assert heatmap.complete and heatmap.array.dtype == np.float32 and heatmap.array.shape == (8, 10, 12)
        assert np.array_equal(heatmap.array, ct() * (m + 1))
        assert heatmap.geometry.same_grid(GEOMETRY) and heatmap.max == float((ct() * (m + 1)).max())
    assert result.complete and result.metrics[1] == {"energy_inside": 0.75, "mean_dice": 0.5, "auprc": 0.25}
    assert result.summary.units_computed == 8 and result.summary.execution_provider == "CPU"
    assert result.request_id == servicer.request_ids[-1]
    assert [p.stage for p in progress] == ["queued", "explain"] and progress[1].fraction == 1.0
    assert progress[0].fraction is None and progress[1].remaining_seconds == 0.0
    assert [(s.heatmap, s.k0, s.k1) for s in slabs] == [(0, 0, 3), (0, 3, 6), (0, 6, 8), (1, 0, 3), (1, 3, 6),
                                                        (1, 6, 8)]
    assert slabs[1].slices_complete == 6 and np.array_equal(slabs[1].values, ct()[3:6])
    request = servicer.last_cam_request
    assert request.target_class == "tumour" and list(request.methods) == ["seg-grad-cam", "seg-hires-grad-cam"]
    assert request.pixel_set.box.min == [2, 2, 1] and request.pixel_set.box.max == [8, 7, 5]
    assert request.options.normalization == pb.NORMALIZATION_MAX and request.options.relu is True
    assert request.ground_truth.WhichOneof("kind") == "runs"


def test_events_arrive_in_protocol_order(fake):
    servicer, endpoint = fake
    with SegCamClient(endpoint) as client:
        job = client.start_cam((ct(), GEOMETRY), "fake-2d", 2, box(), ground_truth=box(),
                               slices={"axis": "axial", "first": 1, "count": 4})
        events = list(job)
    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["Progress", "Progress"] and kinds[2] == "HeatmapStarted"
    assert kinds[3:11] == ["SlabReceived"] * 8 and kinds[11:] == ["MetricsReceived", "Summary"]
    assert isinstance(events[2], HeatmapStarted) and events[2].method == "seg-hires-grad-cam"
    assert isinstance(events[-2], MetricsReceived) and isinstance(events[-1], Summary)
    assert job.done and job.result.complete
    request = servicer.last_cam_request
    assert request.volume.WhichOneof("source") == "inline" and request.target_class == "2"
    assert (request.slices.axis, request.slices.first, request.slices.count) == ("axial", 1, 4)
    with pytest.raises(RuntimeError, match="only once"):
        iter(job)


def test_out_of_order_slabs_are_assembled(fake):
    servicer, endpoint = fake
    servicer.slab_order = "reverse"
    servicer.slices_per_slab = 2
    slabs = []
    with SegCamClient(endpoint) as client:
        result = client.compute_cam((ct(), GEOMETRY), "fake-2d", "tumour", box(), on_slab=slabs.append)
    assert np.array_equal(result.heatmaps[0].array, ct())
    assert [(s.k0, s.k1, s.slices_complete) for s in slabs] == [(6, 8, 0), (4, 6, 0), (2, 4, 0), (0, 2, 8)]


def test_only_the_announced_slices_are_streamed(fake):
    servicer, endpoint = fake
    servicer.sent_slices = (2, 3)
    slabs, started = [], []
    with SegCamClient(endpoint) as client:
        job = client.start_cam((ct(), GEOMETRY), "fake-2d", "tumour", box())
        for event in job:
            (slabs if isinstance(event, SlabReceived) else started).append(event)
    heat = job.result.heatmaps[0]
    assert heat.complete and (heat.first_slice, heat.slice_count) == (2, 3)
    assert [e for e in started if isinstance(e, HeatmapStarted)][0].slice_count == 3
    expected = ct()
    expected[:2] = 0
    expected[5:] = 0
    assert np.array_equal(heat.array, expected)
    # Slices 0-1 are known zeros from the start, so slice 2 completes the prefix [0, 3).
    assert [(s.k0, s.k1, s.slices_complete) for s in slabs] == [(2, 3, 3), (3, 4, 4), (4, 5, 8)]


def test_empty_heatmap_needs_no_slabs(fake):
    servicer, endpoint = fake
    servicer.sent_slices = (0, 0)
    with SegCamClient(endpoint) as client:
        result = client.compute_cam((ct(), GEOMETRY), "fake-2d", "tumour", box())
    assert result.complete and not result.heatmaps[0].array.any()


@pytest.mark.parametrize("order, message", [("duplicate", "overlap"), ("skip-last", "voxels missing")])
def test_duplicate_or_missing_slabs_fail_as_protocol_errors(fake, order, message):
    servicer, endpoint = fake
    servicer.slab_order = order
    with SegCamClient(endpoint) as client, pytest.raises(SegCamError, match=message) as info:
        client.compute_cam((ct(), GEOMETRY), "fake-2d", "tumour", box())
    assert info.value.kind == "protocol"
    assert info.value.partial_result.heatmaps and not info.value.partial_result.heatmaps[0].complete


def test_heatmap_on_another_grid_is_refused(fake):
    servicer, endpoint = fake
    shifted = Geometry(GEOMETRY.size, GEOMETRY.spacing, (-50.0, 12.0, 100.001), OBLIQUE)
    servicer.geometry_override = shifted.to_proto()
    with SegCamClient(endpoint) as client, pytest.raises(SegCamError, match="not on the image grid") as info:
        client.compute_cam((ct(), GEOMETRY), "fake-2d", "tumour", box())
    assert info.value.kind == "geometry-mismatch" and "never resamples" in info.value.message


def test_uint8_output_is_dequantised(fake):
    _, endpoint = fake
    with SegCamClient(endpoint) as client:
        result = client.compute_cam((ct(), GEOMETRY), "fake-2d", "tumour", box(), output_type="uint8")
    heat = result.heatmaps[0]
    scale = float(ct().max()) / 255
    assert heat.array.dtype == np.float32 and np.abs(heat.array - ct()).max() <= scale / 2 + 1e-3


def test_segment_returns_a_uint8_label_map(fake):
    _, endpoint = fake
    progress = []
    with SegCamClient(endpoint) as client:
        volume = client.upload_volume(ct(), GEOMETRY).volume_id
        labels = client.segment(volume, "fake-2d", on_progress=progress.append)
        detailed = client.segment_detailed((ct(), GEOMETRY), "fake-2d")
        with pytest.raises(SegCamError) as unknown:
            client.segment("vol-unknown", "fake-2d")
        assert unknown.value.code == grpc.StatusCode.NOT_FOUND
    with SegCamClient(endpoint) as other:  # did not upload it: the grid comes from the stream's header
        assert np.array_equal(other.segment(volume, "fake-2d"), labels)
    expected = np.where(ct() > 100, 2, np.where(ct() > 50, 1, 0))
    assert labels.dtype == np.uint8 and labels.shape == (8, 10, 12) and np.array_equal(labels, expected)
    assert progress and progress[0].stage == "segment"
    assert detailed.summary.class_voxels == tuple(np.bincount(expected.reshape(-1), minlength=3))
    assert detailed.request_id


def test_pixel_sets_are_checked_against_the_grid(fake):
    _, endpoint = fake
    with SegCamClient(endpoint) as client:
        with pytest.raises(InvalidInputError, match=r"box max \(13, 7, 5\) exceeds the image size"):
            client.start_cam((ct(), GEOMETRY), "fake-2d", "tumour", PixelSet.box((0, 0, 0), (13, 7, 5)))
        with pytest.raises(InvalidInputError, match="mask shape"):
            client.start_cam((ct(), GEOMETRY), "fake-2d", "tumour", PixelSet.mask(np.ones((12, 10, 8))))
        with pytest.raises(InvalidInputError, match="outside the image size"):
            client.start_cam((ct(), GEOMETRY), "fake-2d", "tumour", PixelSet.voxels([(1, 1, 1), (1, 1, 8)]))
        with pytest.raises(InvalidInputError, match="must be a PixelSet"):
            client.start_cam((ct(), GEOMETRY), "fake-2d", "tumour", (0, 0, 0))
        with pytest.raises(InvalidInputError, match="options.normalization 'l2' is not allowed; choose one of"):
            client.start_cam((ct(), GEOMETRY), "fake-2d", "tumour", box(), options={"normalization": "l2"})
        with pytest.raises(InvalidInputError, match="slices has unknown keys"):
            client.start_cam((ct(), GEOMETRY), "fake-2d", "tumour", box(), slices={"start": 1})
        with pytest.raises(InvalidInputError, match="output_type 'int8'"):
            client.start_cam((ct(), GEOMETRY), "fake-2d", "tumour", box(), output_type="int8")
    with pytest.raises(InvalidInputError, match="mask is empty"):
        PixelSet.mask(np.zeros((2, 2, 2)))
    with pytest.raises(InvalidInputError, match="below max"):
        PixelSet.box((3, 0, 0), (3, 4, 4))


def test_pixel_set_encodings_on_the_wire():
    mask = np.zeros((2, 3, 4), dtype=bool)
    mask[1, 2, 1:3] = True
    message = PixelSet.mask(mask).to_proto(pb)
    assert list(message.runs.starts) == [1 + 4 * (2 + 3 * 1)] and list(message.runs.lengths) == [2]
    assert list(PixelSet.voxels([(1, 2, 3), (4, 5, 6)]).to_proto(pb).voxels.ijk) == [1, 2, 3, 4, 5, 6]
    assert PixelSet.label("vol-1", 2).to_proto(pb).label.label_volume_id == "vol-1"
    assert PixelSet.predicted().to_proto(pb).WhichOneof("kind") == "predicted"
    assert PixelSet.all().to_proto(pb).WhichOneof("kind") == "all"


# ---- cancel, deadlines, token, limits -----------------------------------------------------------------------

def test_cancel_from_another_thread_stops_the_stream_within_a_few_slabs(fake):
    servicer, endpoint = fake
    servicer.slab_delay = 0.05
    big = Geometry((16, 16, 60))
    volume = np.ones(big.shape, np.float32)
    received, errors = [], []
    six = threading.Event()

    with SegCamClient(endpoint) as client:
        job = client.start_cam((volume, big), "fake-2d", "tumour", PixelSet.all())

        def worker():  # the worker thread iterates, as SegCamLogic does
            try:
                for event in job:
                    if isinstance(event, SlabReceived):
                        received.append(event)
                        if len(received) == 6:
                            six.set()
            except SegCamError as err:
                errors.append(err)

        thread = threading.Thread(target=worker)
        thread.start()
        assert six.wait(10), "no slabs arrived"
        at_cancel = len(received)
        job.cancel()  # the "GUI" thread cancels
        thread.join(10)
        assert not thread.is_alive()
        assert servicer.stream_done.wait(5), "the server handler did not stop"
    assert len(errors) == 1 and errors[0].kind == "cancelled" and errors[0].user_message == ""
    assert len(received) - at_cancel <= 2, f"{len(received) - at_cancel} slabs after cancel"
    assert servicer.stream_stopped_after - at_cancel <= 3 and servicer.stream_stopped_after < 60
    partial = errors[0].partial_result
    assert partial is job.result and not partial.complete and not partial.heatmaps[0].complete
    assert np.all(partial.heatmaps[0].array[:at_cancel] == 1)
    assert job.done and job.cancel_requested and errors[0].request_id == servicer.request_ids[-1]


def test_a_failing_callback_cancels_the_call(fake):
    servicer, endpoint = fake
    servicer.slab_delay = 0.02
    big = Geometry((8, 8, 50))

    def on_slab(event):
        if event.k1 >= 3:
            raise KeyError("consumer bug")

    with SegCamClient(endpoint) as client, pytest.raises(KeyError):
        client.compute_cam((np.ones(big.shape, np.float32), big), "fake-2d", 1, PixelSet.all(), on_slab=on_slab)
    assert servicer.stream_done.wait(5) and servicer.stream_stopped_after < 50


def test_context_manager_cancels_an_unfinished_job(fake):
    servicer, endpoint = fake
    servicer.slab_delay = 0.02
    big = Geometry((8, 8, 50))
    with SegCamClient(endpoint) as client:
        with client.start_cam((np.ones(big.shape, np.float32), big), "fake-2d", 1, PixelSet.all()) as job:
            for event in job:
                if isinstance(event, SlabReceived):
                    break
        assert job.cancel_requested
    assert servicer.stream_done.wait(5) and servicer.stream_stopped_after < 50


def test_deadline_exceeded(fake):
    servicer, endpoint = fake
    servicer.info_delay = 1.0
    with SegCamClient(endpoint) as client, pytest.raises(SegCamError) as info:
        client.server_info(timeout=0.3)
    err = info.value
    assert err.code == grpc.StatusCode.DEADLINE_EXCEEDED and err.kind == "deadline-exceeded"
    assert "within 0.3 s" in err.user_message


def test_deadline_on_a_stream_keeps_partial_heatmaps(fake):
    servicer, endpoint = fake
    servicer.slab_delay = 0.1
    big = Geometry((8, 8, 40))
    with SegCamClient(endpoint) as client, pytest.raises(SegCamError) as info:
        client.compute_cam((np.ones(big.shape, np.float32), big), "fake-2d", 1, PixelSet.all(), timeout=0.6)
    assert info.value.kind == "deadline-exceeded"
    assert info.value.partial_result.heatmaps and not info.value.partial_result.heatmaps[0].complete


def test_token_is_sent_as_bearer_metadata_on_every_call(fake):
    servicer, endpoint = fake
    servicer.token = "s3cret-Token"
    with SegCamClient(endpoint) as anonymous, pytest.raises(SegCamError) as info:
        anonymous.list_models()
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED and info.value.kind == "auth-failed"
    assert "token once more" in info.value.user_message and info.value.request_id
    with SegCamClient(endpoint, token="wrong") as wrong, pytest.raises(SegCamError, match="wrong API key"):
        wrong.server_info()
    with SegCamClient(endpoint, token="s3cret-Token") as client:
        assert client.server_info().auth_required
        volume = client.upload_volume(ct(), GEOMETRY).volume_id
        client.compute_cam(volume, "fake-2d", 1, box())
        client.segment(volume, "fake-2d")
        client.delete_volume(volume)
    calls = [(rpc, md.get("authorization")) for rpc, md in servicer.metadata_seen[2:]]
    assert calls == [(rpc, "Bearer s3cret-Token") for rpc in
                     ("GetServerInfo", "UploadVolume", "ComputeCam", "Segment", "DeleteVolume")]
    assert servicer.metadata_seen[2][1]["user-agent"].startswith("segcam-client/0.4.0")


def test_message_limits(fake):
    servicer, endpoint = fake
    # The server sends a slab above the client's receive limit.
    servicer.extra_slab_bytes = 300 * 1024
    with SegCamClient(endpoint, max_message_bytes=256 * 1024) as client:
        with pytest.raises(SegCamError) as info:
            client.compute_cam((ct(), GEOMETRY), "fake-2d", 1, box())
        assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "smaller region" in info.value.user_message
        # An inline volume above the message limit is refused before sending, naming the alternative.
        big = Geometry((128, 128, 8))
        with pytest.raises(InvalidInputError, match="exceeds the inline limit of .* upload it with upload_volume"):
            client.start_cam((np.zeros(big.shape, np.float32), big), "fake-2d", 1, PixelSet.all())
        # ... while an upload of the same volume goes through in chunks below the limit.
        servicer.upload_chunks.clear()
        client.upload_volume(np.zeros(big.shape, np.float32), big, chunk_bytes=200 * 1024)
        assert max(n for _, n in servicer.upload_chunks) == 200 * 1024
        with pytest.raises(InvalidInputError, match="chunk_bytes .* out of range"):
            client.start_cam((ct(), GEOMETRY), "fake-2d", 1, box(), chunk_bytes=300 * 1024)


def test_inline_limit_from_server_info(fake):
    servicer, endpoint = fake
    big = Geometry((256, 256, 5))  # 1.25 MiB > the fake's max_inline_bytes (1 MiB) but < 4 MiB
    with SegCamClient(endpoint) as client:
        client.server_info()
        with pytest.raises(InvalidInputError, match="inline limit of 1048576 bytes"):
            client.start_cam((np.zeros(big.shape, np.float32), big), "fake-2d", 1, PixelSet.all())


def test_gzip_compression_round_trip(fake):
    _, endpoint = fake
    with SegCamClient(endpoint, compression=True) as client:
        volume = client.upload_volume(ct(), GEOMETRY).volume_id
        result = client.compute_cam(volume, "fake-2d", 1, box())
    assert np.array_equal(result.heatmaps[0].array, ct())


# ---- every status of docs/VIEWER.md §10 --------------------------------------------------------------------------

STATUSES = [
    (grpc.StatusCode.UNAVAILABLE, "Cannot reach"),
    (grpc.StatusCode.DEADLINE_EXCEEDED, "raise the timeout"),
    (grpc.StatusCode.UNAUTHENTICATED, "token once more"),
    (grpc.StatusCode.PERMISSION_DENIED, "token once more"),
    (grpc.StatusCode.INVALID_ARGUMENT, "the server says no"),
    (grpc.StatusCode.FAILED_PRECONDITION, "the server says no"),
    (grpc.StatusCode.NOT_FOUND, "the server says no"),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, "smaller region"),
    (grpc.StatusCode.UNIMPLEMENTED, "update the SegCam server"),
    (grpc.StatusCode.CANCELLED, ""),
    (grpc.StatusCode.INTERNAL, "failed (request id"),
    (grpc.StatusCode.UNKNOWN, "failed (request id"),
]


@pytest.mark.parametrize("code, text", STATUSES, ids=[c.name for c, _ in STATUSES])
@pytest.mark.parametrize("with_kind", [True, False], ids=["trailer-kind", "derived-kind"])
def test_every_status_maps_to_segcam_error(fake, code, text, with_kind):
    servicer, endpoint = fake
    servicer.fail["ComputeCam"] = (code, "the server says no", "server-kind" if with_kind else None)
    with SegCamClient(endpoint) as client, pytest.raises(SegCamError) as info:
        client.compute_cam((ct(), GEOMETRY), "fake-2d", 1, box())
    err = info.value
    assert err.code == code and err.message == "the server says no"
    assert err.request_id == servicer.request_ids[-1]
    if code == grpc.StatusCode.CANCELLED:
        assert err.kind == "cancelled" and err.user_message == ""
    else:
        assert err.kind == ("server-kind" if with_kind else code.name.lower().replace("_", "-"))
        assert text in err.user_message


@pytest.mark.parametrize("rpc, call", [
    ("GetServerInfo", lambda c: c.server_info()),
    ("ListModels", lambda c: c.list_models()),
    ("UploadVolume", lambda c: c.upload_volume(ct(), GEOMETRY)),
    ("DeleteVolume", lambda c: c.delete_volume("x")),
    ("Segment", lambda c: c.segment((ct(), GEOMETRY), "fake-2d")),
])
def test_unary_and_other_streams_convert_errors_too(fake, rpc, call):
    servicer, endpoint = fake
    servicer.fail[rpc] = (grpc.StatusCode.INVALID_ARGUMENT, f"{rpc} refused", "invalid-argument")
    with SegCamClient(endpoint) as client, pytest.raises(SegCamError, match=f"{rpc} refused") as info:
        call(client)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and info.value.request_id


def test_failure_mid_stream_keeps_partial_heatmaps(fake):
    servicer, endpoint = fake
    servicer.fail_after_slabs = (3, grpc.StatusCode.RESOURCE_EXHAUSTED, "GPU out of memory", "device-memory")
    with SegCamClient(endpoint) as client, pytest.raises(SegCamError) as info:
        client.compute_cam((ct(), GEOMETRY), "fake-2d", 1, box())
    err = info.value
    assert err.kind == "device-memory" and err.partial_result.heatmaps
    heat = err.partial_result.heatmaps[0]
    assert not heat.complete and np.array_equal(heat.array[:3], ct()[:3]) and np.all(heat.array[3:] == 0)


def test_unreachable_server_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with SegCamClient(f"127.0.0.1:{port}") as client, pytest.raises(SegCamError) as info:
        client.server_info(timeout=5)
    err = info.value
    assert err.code == grpc.StatusCode.UNAVAILABLE and err.kind == "unavailable"
    assert f"Cannot reach 127.0.0.1:{port}" in err.user_message


def test_server_without_the_method_is_unimplemented():
    server, endpoint = start_server(NoCamServicer())
    try:
        with SegCamClient(endpoint) as client, pytest.raises(SegCamError) as info:
            client.compute_cam((ct(), GEOMETRY), "fake-2d", 1, box())
    finally:
        server.stop(None)
    assert info.value.code == grpc.StatusCode.UNIMPLEMENTED and "update the SegCam server" in info.value.user_message


def test_closed_client_refuses_calls(fake):
    _, endpoint = fake
    client = SegCamClient(endpoint)
    client.close()
    client.close()
    with pytest.raises(SegCamError, match="closed"):
        client.server_info()


def test_progress_event_fields():
    p = Progress.from_proto(pb.Progress(stage="explain", done=3, total=12, elapsed_seconds=1.5))
    assert p.fraction == 0.25 and p.remaining_seconds is None
