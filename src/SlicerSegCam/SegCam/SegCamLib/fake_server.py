"""A small in-process SegCam server on 127.0.0.1 for the module's self-test and the CI tests (VIEWER.md §11).

It speaks the real protocol (segcam.v1) through the generated stubs, which are passed in, so the same code runs
with ``segcam_client._gen`` inside Slicer and with freshly generated stubs in CI. It stores uploaded volumes,
streams deterministic heatmaps slab by slab (``expected_heatmap``), optionally slowly so that a test can cancel
mid-stream, and answers the error cases a test needs: an unknown volume (NOT_FOUND), the layer "bad-layer"
(INVALID_ARGUMENT) and a missing token (UNAUTHENTICATED).

Only for tests: loopback, no TLS, everything in memory.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from concurrent import futures
from typing import Any, Dict, List, Optional

import numpy as np

FAKE_VERSION = "0.4.0"
FAKE_MODEL_ID = "fake-3d"
FAKE_CLASSES = ["background", "tumour"]
FAKE_LAYERS = [("enc1", "encoder-1", "Relu"), ("bottle", "bottleneck", "Relu"), ("dec1", "decoder-1", "Relu")]
FAKE_METHODS = [
    "seg-grad-cam",
    "seg-hires-grad-cam",
    "seg-xres-cam",
    "seg-grad-cam-pp",
    "seg-xgrad-cam",
    "seg-layer-cam",
    "seg-eigen-cam",
]
BAD_LAYER = "bad-layer"
_ITEM_SIZE = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 8: 8}


def expected_heatmap(index: int, size_ijk) -> np.ndarray:
    """The values the fake server sends for heatmap ``index`` of a volume of size (I, J, K): (K, J, I) float32."""
    ni, nj, nk = (int(v) for v in size_ijk)
    k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    return (((i + 2 * j + 3 * k + index) % 10) / 10.0).astype(np.float32)


class FakeSegCamServer:
    """Start with ``start()``; ``endpoint`` is "127.0.0.1:<port>"; ``stop()`` ends it."""

    def __init__(self, pb2: Any, pb2_grpc: Any, *, slab_slices: int = 1, slab_delay_s: float = 0.0,
                 token: Optional[str] = None):
        self.pb2 = pb2
        self.pb2_grpc = pb2_grpc
        self.slab_slices = max(1, int(slab_slices))
        self.slab_delay_s = float(slab_delay_s)
        self.token = token
        self.volumes: Dict[str, Any] = {}
        self.uploads = 0
        self.cam_calls = 0
        self.cancelled_streams = 0
        self.lock = threading.Lock()
        self._server = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "FakeSegCamServer":
        import grpc

        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.pb2_grpc.add_SegCamServiceServicer_to_server(_make_servicer(self), self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)
            self._server = None

    def forget_volumes(self) -> None:
        """Simulate a server restart: every stored volume is gone."""
        with self.lock:
            self.volumes.clear()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _make_servicer(fake: FakeSegCamServer):
    import grpc

    pb2 = fake.pb2

    def request_id(context) -> str:
        rid = "fake-" + uuid.uuid4().hex[:12]
        context.send_initial_metadata((("segcam-request-id", rid),))
        return rid

    def fail(context, rid: str, code, kind: str, text: str):
        context.set_trailing_metadata((("segcam-request-id", rid), ("segcam-error-kind", kind)))
        context.abort(code, text)

    def check_token(context, rid: str) -> None:
        if fake.token is None:
            return
        metadata = dict(context.invocation_metadata())
        if metadata.get("authorization") != f"Bearer {fake.token}":
            fail(context, rid, grpc.StatusCode.UNAUTHENTICATED, "Unauthenticated", "missing or wrong API key")

    class Servicer(fake.pb2_grpc.SegCamServiceServicer):
        def GetServerInfo(self, request, context):
            rid = request_id(context)
            check_token(context, rid)
            return pb2.GetServerInfoResponse(
                version=FAKE_VERSION,
                execution_provider="CPU",
                device_note="fake server for tests",
                methods=FAKE_METHODS,
                pixel_set_kinds=["runs", "voxels", "box", "label", "predicted", "all"],
                limits=pb2.ServerLimits(
                    max_voxels=64 * 1024 * 1024,
                    max_message_bytes=4 * 1024 * 1024,
                    default_chunk_bytes=1024 * 1024,
                    max_stored_bytes=1 << 30,
                    volume_idle_seconds=3600,
                    max_concurrent=2,
                    max_queued=4,
                    max_inline_bytes=1024 * 1024,
                ),
                auth_required=fake.token is not None,
                protocol="segcam.v1",
            )

        def ListModels(self, request, context):
            rid = request_id(context)
            check_token(context, rid)
            layers = [
                pb2.LayerInfo(name=name, role=role, shape=[1, 4, 8, 8, 8], op_type=op)
                for name, role, op in FAKE_LAYERS
            ]
            model = pb2.ModelInfo(
                id=FAKE_MODEL_ID,
                name="Fake 3-D model",
                dimensionality=3,
                channels=1,
                classes=FAKE_CLASSES,
                size_multiple=1,
                default_layer=FAKE_LAYERS[0][0],
                layers=layers,
                preprocessing="none",
                metrics={"dice_tumour": 0.9},
            )
            return pb2.ListModelsResponse(models=[model])

        def UploadVolume(self, request_iterator, context):
            rid = request_id(context)
            check_token(context, rid)
            header = None
            parts: List[bytes] = []
            received = 0
            for message in request_iterator:
                if header is None:
                    if message.WhichOneof("part") != "header":
                        fail(context, rid, grpc.StatusCode.INVALID_ARGUMENT, "InvalidInput",
                             "the first message must be the header")
                    header = message.header
                    continue
                if message.chunk.offset != received:
                    fail(context, rid, grpc.StatusCode.INVALID_ARGUMENT, "InvalidInput",
                         f"chunk offset {message.chunk.offset}, expected {received}")
                parts.append(message.chunk.data)
                received += len(message.chunk.data)
            if header is None:
                fail(context, rid, grpc.StatusCode.INVALID_ARGUMENT, "InvalidInput", "no header")
            size = list(header.geometry.size)
            expected = int(np.prod(size)) * _ITEM_SIZE.get(int(header.voxel_type), 0)
            if len(size) != 3 or received != expected:
                fail(context, rid, grpc.StatusCode.INVALID_ARGUMENT, "InvalidInput",
                     f"received {received} voxel bytes, expected {expected}")
            data = b"".join(parts)
            digest = hashlib.sha256(data).hexdigest()
            volume_id = "vol-" + hashlib.sha256(header.SerializeToString() + data).hexdigest()[:16]
            with fake.lock:
                deduplicated = volume_id in fake.volumes
                fake.volumes[volume_id] = header
                fake.uploads += 1
            return pb2.UploadVolumeResponse(
                volume_id=volume_id, bytes_received=received, deduplicated=deduplicated, sha256=digest,
                idle_seconds=3600,
            )

        def DeleteVolume(self, request, context):
            rid = request_id(context)
            check_token(context, rid)
            with fake.lock:
                existed = fake.volumes.pop(request.volume_id, None) is not None
            return pb2.DeleteVolumeResponse(existed=existed)

        def Segment(self, request, context):
            rid = request_id(context)
            fail(context, rid, grpc.StatusCode.UNIMPLEMENTED, "Unsupported", "the fake server does not segment")

        def ComputeCam(self, request, context):
            rid = request_id(context)
            check_token(context, rid)
            with fake.lock:
                fake.cam_calls += 1
                header = fake.volumes.get(request.volume.volume_id)
            if header is None:
                fail(context, rid, grpc.StatusCode.NOT_FOUND, "NotFound",
                     f"volume '{request.volume.volume_id}' not found")
            if request.model != FAKE_MODEL_ID:
                fail(context, rid, grpc.StatusCode.NOT_FOUND, "NotFound", f"model '{request.model}' not found")
            known = {name for name, _, _ in FAKE_LAYERS} | {role for _, role, _ in FAKE_LAYERS}
            for layer in request.layers:
                if layer not in known:
                    fail(context, rid, grpc.StatusCode.INVALID_ARGUMENT, "InvalidInput",
                         f"unknown layer '{layer}'; known: {', '.join(sorted(known))}")
            methods = list(request.methods) or ["seg-hires-grad-cam"]
            for method in methods:
                if method not in FAKE_METHODS:
                    fail(context, rid, grpc.StatusCode.INVALID_ARGUMENT, "InvalidInput",
                         f"unknown CAM method '{method}'")
            layers = [_resolve(layer) for layer in request.layers] or [FAKE_LAYERS[0][0]]
            nk = int(header.geometry.size[2])
            started = time.monotonic()
            yield pb2.ComputeCamResponse(progress=pb2.Progress(stage="explain", done=0, total=nk))
            finished = False
            try:
                finished = yield from self._stream(request, context, header, layers, methods, started)
            finally:
                if not finished:  # the client cancelled (grpc closed the generator) or the deadline passed
                    with fake.lock:
                        fake.cancelled_streams += 1
            if not finished:
                return
            elapsed = time.monotonic() - started
            context.set_trailing_metadata((("segcam-request-id", rid),))
            yield pb2.ComputeCamResponse(summary=pb2.ComputeCamSummary(
                timings=pb2.Timings(queue_seconds=0.0, compute_seconds=elapsed, total_seconds=elapsed),
                units_computed=nk, units_skipped=0, layers=layers, execution_provider="CPU",
                pixel_set_voxels=1,
            ))

        def _stream(self, request, context, header, layers, methods, started):
            """Per layer and method: header, slabs with progress, metrics when a ground truth was given.

            Returns False when the call ended early (cancelled or past its deadline).
            """
            ni, nj, nk = (int(v) for v in header.geometry.size)
            index = 0
            for layer in layers:
                for method in methods:
                    values = expected_heatmap(index, (ni, nj, nk))
                    yield pb2.ComputeCamResponse(heatmap=pb2.HeatmapHeader(
                        index=index, method=method, layer=layer, geometry=header.geometry,
                        voxel_type=pb2.VOXEL_TYPE_FLOAT32, scale=1.0, offset=0.0,
                        min=float(values.min()), max=float(values.max()),
                    ))
                    for k0 in range(0, nk, fake.slab_slices):
                        if not context.is_active():
                            return False
                        k1 = min(nk, k0 + fake.slab_slices)
                        yield pb2.ComputeCamResponse(slab=pb2.VoxelSlab(
                            heatmap=index, voxel_offset=k0 * ni * nj, slices_complete=k1,
                            data=values[k0:k1].astype("<f4").tobytes(),
                        ))
                        yield pb2.ComputeCamResponse(progress=pb2.Progress(
                            stage="stream", done=k1, total=nk, elapsed_seconds=time.monotonic() - started,
                        ))
                        if fake.slab_delay_s:
                            time.sleep(fake.slab_delay_s)
                    if request.HasField("ground_truth"):
                        yield pb2.ComputeCamResponse(metrics=pb2.HeatmapMetrics(
                            heatmap=index, energy_inside=0.5, mean_dice=0.25, auprc=0.75,
                        ))
                    index += 1
            return True

    return Servicer()


def _resolve(layer: str) -> str:
    for name, role, _ in FAKE_LAYERS:
        if layer in (name, role):
            return name
    return layer
