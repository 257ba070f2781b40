"""A scriptable in-process SegCamService for client tests (a real grpc.server on 127.0.0.1:0).

Heatmaps are simple functions of the uploaded voxels, so tests can predict every value:
heatmap m (0-based over methods x layers) = voxel value * (m + 1), as float32.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from concurrent import futures

import grpc
import numpy as np

from segcam_client._gen import segcam_pb2 as pb
from segcam_client._gen import segcam_pb2_grpc as pb_grpc
from segcam_client.wire import dtype_of

TOKEN_KEY = "authorization"


class FakeSegCam(pb_grpc.SegCamServiceServicer):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.token: str | None = None
        self.protocol = "segcam.v1"
        self.methods = ["seg-grad-cam", "seg-hires-grad-cam"]
        self.volumes: dict = {}  # id -> (VolumeHeader, bytes)
        self.metadata_seen: list = []  # (method, dict of metadata)
        self.request_ids: list = []
        self.fail: dict = {}  # rpc name -> (StatusCode, message, kind or None)
        self.fail_after_slabs: tuple | None = None  # (n, StatusCode, message, kind)
        self.info_delay = 0.0
        self.slab_delay = 0.0
        self.slices_per_slab = 1
        self.slab_order = "forward"  # "forward", "reverse", "duplicate", "skip-last"
        self.geometry_override = None  # VolumeGeometry sent in heatmap headers instead of the image's
        self.extra_slab_bytes = 0  # pad the first slab to exceed a client's message limit
        self.sent_slices: tuple | None = None  # (first, count): only these k-slices are non-zero and sent
        self.slabs_sent = 0
        self.stream_stopped_after: int | None = None  # slabs sent when the handler noticed cancellation
        self.stream_done = threading.Event()
        self.upload_chunks: list = []  # (offset, length)
        self.last_cam_request: pb.ComputeCamRequest | None = None

    # ---- helpers ------------------------------------------------------------------------------------------------

    def _begin(self, context, rpc: str) -> str:
        request_id = f"req-{uuid.uuid4().hex[:8]}"
        metadata = {k: v for k, v in context.invocation_metadata()}
        with self.lock:
            self.metadata_seen.append((rpc, metadata))
            self.request_ids.append(request_id)
        context.send_initial_metadata((("segcam-request-id", request_id),))
        if self.token is not None and metadata.get(TOKEN_KEY) != f"Bearer {self.token}":
            self._abort(context, grpc.StatusCode.UNAUTHENTICATED, "missing or wrong API key", "auth-failed",
                        request_id)
        if rpc in self.fail:
            code, message, kind = self.fail[rpc]
            self._abort(context, code, message, kind, request_id)
        return request_id

    @staticmethod
    def _abort(context, code, message, kind, request_id):
        trailers = [("segcam-request-id", request_id)]
        if kind:
            trailers.append(("segcam-error-kind", kind))
        context.set_trailing_metadata(tuple(trailers))
        context.abort(code, message)

    def _image(self, source, context, request_id):
        which = source.WhichOneof("source")
        if which == "volume_id":
            if source.volume_id not in self.volumes:
                self._abort(context, grpc.StatusCode.NOT_FOUND, f"volume '{source.volume_id}' not found",
                            "volume-not-found", request_id)
            header, data = self.volumes[source.volume_id]
        elif which == "inline":
            header, data = source.inline.header, source.inline.data
        else:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "volume: give volume_id or inline",
                        "invalid-argument", request_id)
        size = tuple(header.geometry.size)
        array = np.frombuffer(data, dtype=dtype_of(header.voxel_type)).reshape(size[::-1]).astype(np.float64)
        return header, array

    # ---- rpcs ---------------------------------------------------------------------------------------------------

    def GetServerInfo(self, request, context):
        self._begin(context, "GetServerInfo")
        if self.info_delay:
            time.sleep(self.info_delay)
        return pb.GetServerInfoResponse(
            version="0.4.0-fake", execution_provider="CPU", methods=self.methods,
            pixel_set_kinds=["runs", "voxels", "box", "label", "predicted", "all"],
            limits=pb.ServerLimits(max_voxels=10**8, max_message_bytes=4 << 20, default_chunk_bytes=1 << 20,
                                   max_inline_bytes=1 << 20, max_concurrent=1, max_queued=4),
            auth_required=self.token is not None, protocol=self.protocol)

    def ListModels(self, request, context):
        self._begin(context, "ListModels")
        layers = [pb.LayerInfo(name="/bottleneck/Relu_output_0", role="bottleneck", shape=[1, 64, 8, 8],
                               op_type="Relu")]
        return pb.ListModelsResponse(models=[pb.ModelInfo(
            id="fake-2d", name="Fake", dimensionality=2, channels=1, classes=["background", "kidney", "tumour"],
            size_multiple=8, slice_axis="axial", default_layer="/bottleneck/Relu_output_0", layers=layers,
            preprocessing="none", metrics={"dice_tumour": 0.5})])

    def UploadVolume(self, request_iterator, context):
        request_id = self._begin(context, "UploadVolume")
        header = None
        data = bytearray()
        for message in request_iterator:
            which = message.WhichOneof("part")
            if header is None:
                if which != "header":
                    self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, "first message must be the header",
                                "invalid-argument", request_id)
                header = message.header
                continue
            if which != "chunk" or message.chunk.offset != len(data):
                self._abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                            f"chunk offset {message.chunk.offset} != {len(data)}", "invalid-argument", request_id)
            with self.lock:
                self.upload_chunks.append((message.chunk.offset, len(message.chunk.data)))
            data.extend(message.chunk.data)
        size = tuple(header.geometry.size)
        expected = int(np.prod(size)) * dtype_of(header.voxel_type).itemsize
        if len(data) != expected:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"got {len(data)} bytes, expected {expected}",
                        "invalid-argument", request_id)
        digest = hashlib.sha256(bytes(data)).hexdigest()
        identity = hashlib.sha256(header.SerializeToString(deterministic=True) + bytes(data)).hexdigest()[:16]
        volume_id = f"vol-{identity}"
        with self.lock:
            deduplicated = volume_id in self.volumes
            self.volumes[volume_id] = (header, bytes(data))
        return pb.UploadVolumeResponse(volume_id=volume_id, bytes_received=len(data), deduplicated=deduplicated,
                                       sha256=digest, idle_seconds=600)

    def DeleteVolume(self, request, context):
        self._begin(context, "DeleteVolume")
        with self.lock:
            existed = self.volumes.pop(request.volume_id, None) is not None
        return pb.DeleteVolumeResponse(existed=existed)

    def Segment(self, request, context):
        request_id = self._begin(context, "Segment")
        header, image = self._image(request.volume, context, request_id)
        labels = np.where(image > 100, 2, np.where(image > 50, 1, 0)).astype(np.uint8)
        k = labels.shape[0]
        yield pb.SegmentResponse(progress=pb.Progress(stage="segment", done=0, total=k))
        yield pb.SegmentResponse(header=pb.SegmentHeader(geometry=header.geometry,
                                                         classes=["background", "kidney", "tumour"]))
        flat = labels.reshape(-1)
        per_slice = labels.shape[1] * labels.shape[2]
        for kk in range(k):
            yield pb.SegmentResponse(labels=pb.VoxelSlab(heatmap=0, voxel_offset=kk * per_slice,
                                                         slices_complete=kk + 1,
                                                         data=flat[kk * per_slice:(kk + 1) * per_slice].tobytes()))
        counts = np.bincount(flat, minlength=3)
        yield pb.SegmentResponse(summary=pb.SegmentSummary(class_voxels=counts.tolist()))

    def ComputeCam(self, request, context):
        request_id = self._begin(context, "ComputeCam")
        self.last_cam_request = request
        header, image = self._image(request.volume, context, request_id)
        methods = list(request.methods) or ["seg-hires-grad-cam"]
        unknown = [m for m in methods if m not in self.methods]
        if unknown:
            self._abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                        f"methods: '{unknown[0]}' is not a method; allowed: {', '.join(self.methods)}",
                        "unknown-method", request_id)
        layers = list(request.layers) or ["bottleneck"]
        k = image.shape[0]
        per_slice = image.shape[1] * image.shape[2]
        yield pb.ComputeCamResponse(progress=pb.Progress(stage="queued", done=0, total=0))
        yield pb.ComputeCamResponse(progress=pb.Progress(stage="explain", done=k, total=k, elapsed_seconds=0.1,
                                                         remaining_seconds=0.0))
        index = 0
        try:
            for layer in layers:
                for method in methods:
                    heat = (image * (index + 1)).astype(np.float32)
                    if self.sent_slices is not None:
                        first, count = self.sent_slices
                        heat[:first] = 0
                        heat[first + count:] = 0
                    yield self._header(index, method, layer, header.geometry, heat, request.output_type)
                    for slab in self._slabs(index, heat, request.output_type, k, per_slice):
                        if not context.is_active():
                            return
                        if self.slab_delay:
                            time.sleep(self.slab_delay)
                        if not context.is_active():
                            return
                        with self.lock:
                            self.slabs_sent += 1
                            sent = self.slabs_sent
                        yield pb.ComputeCamResponse(slab=slab)
                        if self.fail_after_slabs and sent == self.fail_after_slabs[0]:
                            _, code, message, kind = self.fail_after_slabs
                            self._abort(context, code, message, kind, request_id)
                    if request.HasField("ground_truth"):
                        yield pb.ComputeCamResponse(metrics=pb.HeatmapMetrics(
                            heatmap=index, energy_inside=0.75, mean_dice=0.5, auprc=0.25))
                    index += 1
            yield pb.ComputeCamResponse(summary=pb.ComputeCamSummary(
                timings=pb.Timings(queue_seconds=0.0, compute_seconds=0.1, total_seconds=0.2), units_computed=k,
                units_skipped=0, layers=layers, execution_provider="CPU", pixel_set_voxels=10))
        finally:
            with self.lock:
                self.stream_stopped_after = self.slabs_sent
            self.stream_done.set()

    def _header(self, index, method, layer, geometry, heat, output_type):
        lo, hi = float(heat.min()), float(heat.max())
        quantised = output_type == pb.OUTPUT_TYPE_UINT8
        scale = (hi - lo) / 255.0 if quantised and hi > lo else 1.0
        offset = lo if quantised else 0.0
        first, count = self.sent_slices if self.sent_slices is not None else (0, heat.shape[0])
        return pb.ComputeCamResponse(heatmap=pb.HeatmapHeader(
            first_slice=first, slice_count=count,
            index=index, method=method, layer=layer,
            geometry=self.geometry_override if self.geometry_override is not None else geometry,
            voxel_type=pb.VOXEL_TYPE_UINT8 if quantised else pb.VOXEL_TYPE_FLOAT32,
            scale=scale, offset=offset, min=lo, max=hi))

    def _slabs(self, index, heat, output_type, k, per_slice):
        if output_type == pb.OUTPUT_TYPE_UINT8:
            lo, hi = float(heat.min()), float(heat.max())
            scale = (hi - lo) / 255.0 if hi > lo else 1.0
            flat = np.round((heat.reshape(-1) - lo) / scale).astype(np.uint8)
        else:
            flat = heat.reshape(-1).astype("<f4")
        step = self.slices_per_slab
        first, count = self.sent_slices if self.sent_slices is not None else (0, k)
        starts = list(range(first, first + count, step))
        k = first + count
        if self.slab_order == "reverse":
            starts.reverse()
        elif self.slab_order == "duplicate":
            starts.insert(1, starts[0])
        elif self.slab_order == "skip-last":
            starts = starts[:-1]
        slabs = []
        for s in starts:
            e = min(k, s + step)
            data = flat[s * per_slice:e * per_slice].tobytes()
            if self.extra_slab_bytes and not slabs:
                data = data + b"\0" * self.extra_slab_bytes
            slabs.append(pb.VoxelSlab(heatmap=index, voxel_offset=s * per_slice, slices_complete=e, data=data))
        return slabs


class NoCamServicer(pb_grpc.SegCamServiceServicer):
    """A server that implements nothing (every call is UNIMPLEMENTED), like an older server version."""


def start_server(servicer, max_message_bytes: int = 4 << 20):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
    ])
    pb_grpc.add_SegCamServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"
