"""SegCamClient: the synchronous gRPC client of the SegCam server (segcam.v1).

Blocking calls, safe to run on a worker thread; long streams are :class:`~segcam_client.job.CamJob` objects that
another thread may cancel. Never call it on 3D Slicer's GUI thread (docs/VIEWER.md §5).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading

import grpc
import numpy as np

from . import __version__
from ._gen import segcam_pb2 as pb
from ._gen import segcam_pb2_grpc as pb_grpc
from .datatypes import (CamOptions, ModelInfo, Progress, SegmentResult, SegmentSummary, ServerInfo, SliceSelection,
                        Timings, UploadResult)
from .errors import (KIND_GEOMETRY, KIND_INCOMPATIBLE, KIND_PROTOCOL, REQUEST_ID_KEY, InvalidInputError, SegCamError,
                     _metadata_value, from_rpc_error)
from .geometry import Geometry
from .job import CamJob
from .pixelset import PixelSet
from .policy import DEFAULT_ENDPOINT, Endpoint, choose_transport, normalize_endpoint, resolve_settings
from .wire import VOXEL_TYPE_UINT8, SlabAssembler, iter_chunks, to_wire, voxel_type_of

_LOG = logging.getLogger(__name__)

#: Protocol this client speaks; the server's GetServerInfoResponse.protocol must have the same major version.
PROTOCOL = "segcam.v1"
PROTOCOL_MAJOR = 1

#: Room left for message framing (field tags, offsets) below the message size limit.
FRAMING_BYTES = 16 * 1024

_OUTPUT_TYPES = {"float32": pb.OUTPUT_TYPE_FLOAT32, "uint8": pb.OUTPUT_TYPE_UINT8}
_TOKEN = re.compile(r"^[\x21-\x7e]+$")


def check_protocol(protocol: str) -> None:
    """Raises SegCamError(kind="incompatible") unless ``protocol`` is segcam.v1 (any minor), naming which side to
    update."""
    match = re.fullmatch(r"segcam\.v(\d+)(?:\.\d+)?", (protocol or "").strip())
    if not match:
        raise SegCamError(KIND_INCOMPATIBLE, (
            f"the server reports protocol '{protocol}', not {PROTOCOL}: it is not a SegCam server or an old one; "
            f"update the SegCam server"))
    major = int(match.group(1))
    if major > PROTOCOL_MAJOR:
        raise SegCamError(KIND_INCOMPATIBLE, (
            f"the server speaks segcam.v{major}, this client (segcam_client {__version__}) speaks {PROTOCOL}: "
            f"update the SegCam plugin / segcam_client"))
    if major < PROTOCOL_MAJOR:
        raise SegCamError(KIND_INCOMPATIBLE, (
            f"the server speaks segcam.v{major}, this client (segcam_client {__version__}) needs {PROTOCOL}: "
            f"update the SegCam server"))


def _names(value, what: str) -> list:
    """None, "a,b" or an iterable of names → a list of non-empty names."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    names = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise InvalidInputError(f"{what} must be non-empty strings; got {value!r}")
        names.append(item.strip())
    return names


class SegCamClient:
    """Connection to one SegCam server.

    Args:
        endpoint: host:port (schemes and a trailing slash are stripped; 0.0.0.0 becomes 127.0.0.1).
        token: API key, sent as "authorization: Bearer <token>" on every call; kept in memory only.
        ca_file: PEM bundle of CA certificates for TLS (hospital CAs); implies TLS.
        allow_insecure_remote: the per-endpoint opt-in for plaintext to a non-loopback host.
        max_message_bytes: largest gRPC message sent or received.
        compression: gzip per call; None = on for non-loopback endpoints only.
    """

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, token: str | None = None, ca_file: str | None = None,
                 allow_insecure_remote: bool = False, max_message_bytes: int = 4 * 1024 * 1024,
                 compression: bool | None = None) -> None:
        self.endpoint: Endpoint = normalize_endpoint(endpoint)
        for note in self.endpoint.notes:
            _LOG.info("segcam endpoint: %s", note)
        self.transport = choose_transport(self.endpoint, ca_file, allow_insecure_remote)
        if self.transport.warning:
            _LOG.warning("%s", self.transport.warning)
        if token is not None and (not isinstance(token, str) or not _TOKEN.match(token)):
            raise InvalidInputError("token must be a non-empty string of printable ASCII without spaces "
                                    "(the server's API key)")
        if int(max_message_bytes) < 64 * 1024:
            raise InvalidInputError(f"max_message_bytes must be at least 65536; got {max_message_bytes}")
        self.max_message_bytes = int(max_message_bytes)
        self._token = token
        gzip = compression if compression is not None else not self.endpoint.is_loopback
        self._compression = grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression
        options = [
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.primary_user_agent", f"segcam-client/{__version__}"),
            # Keepalive pings keep long CAM streams alive through proxies and notice dead peers.
            ("grpc.keepalive_time_ms", 60_000),
            ("grpc.keepalive_timeout_ms", 20_000),
        ]
        if self.transport.tls:
            root = None
            if ca_file:
                try:
                    with open(ca_file, "rb") as handle:
                        root = handle.read()
                except OSError as exc:
                    raise InvalidInputError(f"CA file '{ca_file}' cannot be read: {exc.strerror}") from exc
            credentials = grpc.ssl_channel_credentials(root_certificates=root)
            self._channel = grpc.secure_channel(self.endpoint.target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(self.endpoint.target, options=options)
        self._stub = pb_grpc.SegCamServiceStub(self._channel)
        self._geometries: dict = {}
        self._lock = threading.Lock()
        self._closed = False
        self.last_server_info: ServerInfo | None = None

    @classmethod
    def from_environment(cls, endpoint: str | None = None, token: str | None = None, ca_file: str | None = None,
                         environ=None, **kwargs) -> "SegCamClient":
        """A client whose endpoint, CA file and token may be pinned by SEGCAM_ENDPOINT / SEGCAM_CA_FILE /
        SEGCAM_TOKEN (these override the arguments)."""
        settings = resolve_settings(endpoint, ca_file, token, environ)
        return cls(settings.endpoint.target if settings.endpoint.scheme is None else
                   f"{settings.endpoint.scheme}://{settings.endpoint.target}",
                   token=settings.token, ca_file=settings.ca_file, **kwargs)

    # ---- lifetime -----------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the channel; running calls are cancelled."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._channel.close()

    def __enter__(self) -> "SegCamClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SegCamClient({self.endpoint.target}, {self.transport.mode})"

    # ---- helpers ------------------------------------------------------------------------------------------------

    def _metadata(self) -> list:
        if self._closed:
            raise SegCamError("closed", "this SegCamClient is closed; create a new one")
        return [("authorization", f"Bearer {self._token}")] if self._token else []

    def _error(self, err: grpc.RpcError, timeout: float | None) -> SegCamError:
        return from_rpc_error(err, endpoint=self.endpoint.target, timeout=timeout)

    def _unary(self, method, request, timeout: float | None):
        metadata = self._metadata()
        try:
            response, call = method.with_call(request, timeout=timeout, metadata=metadata,
                                              compression=self._compression)
        except grpc.RpcError as err:
            raise self._error(err, timeout) from None
        return response, _metadata_value(call.initial_metadata(), REQUEST_ID_KEY) or \
            _metadata_value(call.trailing_metadata(), REQUEST_ID_KEY)

    def _check_chunk(self, chunk_bytes: int, allow_zero: bool) -> int:
        limit = self.max_message_bytes - FRAMING_BYTES
        value = int(chunk_bytes)
        low = 0 if allow_zero else 1
        if not low <= value <= limit:
            zero = " (0 = server default)" if allow_zero else ""
            raise InvalidInputError(f"chunk_bytes {chunk_bytes} is out of range: allowed {low}..{limit}{zero}, "
                                    f"i.e. at most max_message_bytes ({self.max_message_bytes}) minus "
                                    f"{FRAMING_BYTES} bytes of framing")
        return value

    def _receive_chunk(self, chunk_bytes: int) -> int:
        """The slab size to ask for: the caller's, else the server's default (0) unless this client receives less."""
        value = self._check_chunk(chunk_bytes, allow_zero=True)
        if value == 0 and self.max_message_bytes - FRAMING_BYTES < (1 << 20):
            return self.max_message_bytes - FRAMING_BYTES  # the server's default slabs (1 MiB) would not fit
        return value

    def _volume_source(self, volume) -> tuple:
        """(VolumeSource, Geometry or None) of a volume id, (volume_id, geometry) or (array, geometry)."""
        if isinstance(volume, str):
            if not volume:
                raise InvalidInputError("volume id is empty")
            return pb.VolumeSource(volume_id=volume), self._geometries.get(volume)
        if isinstance(volume, tuple) and len(volume) == 2 and isinstance(volume[1], Geometry):
            first, geometry = volume
            if isinstance(first, str):
                return pb.VolumeSource(volume_id=first), geometry
            array = np.asarray(first)
            geometry.check_array(array, "inline volume")
            voxel_type = voxel_type_of(array.dtype)
            data = to_wire(array)
            limit = self.max_message_bytes - FRAMING_BYTES
            server_limit = self.last_server_info.limits.max_inline_bytes if self.last_server_info else 0
            if len(data) > limit or (server_limit and len(data) > server_limit):
                allowed = min(limit, server_limit) if server_limit else limit
                raise InvalidInputError(f"inline volume of {len(data)} bytes exceeds the inline limit of {allowed} "
                                        f"bytes; upload it with upload_volume() and pass the volume id")
            header = pb.VolumeHeader(geometry=geometry.to_proto(pb.VolumeGeometry), voxel_type=voxel_type)
            return pb.VolumeSource(inline=pb.InlineVolume(header=header, data=data)), geometry
        raise InvalidInputError("volume must be a volume id (str), (volume_id, Geometry) or (array (K, J, I), "
                                f"Geometry); got {type(volume).__name__}")

    # ---- calls --------------------------------------------------------------------------------------------------

    def server_info(self, timeout: float = 10) -> ServerInfo:
        """GetServerInfo; raises SegCamError(kind="incompatible") for another protocol major version."""
        response, _ = self._unary(self._stub.GetServerInfo, pb.GetServerInfoRequest(), timeout)
        info = ServerInfo.from_proto(response)
        check_protocol(info.protocol)
        self.last_server_info = info
        return info

    def list_models(self, timeout: float = 10) -> list:
        """ListModels as a list of ModelInfo."""
        response, _ = self._unary(self._stub.ListModels, pb.ListModelsRequest(), timeout)
        return [ModelInfo.from_proto(m) for m in response.models]

    def upload_volume(self, array, geometry: Geometry, name: str | None = None, chunk_bytes: int | None = None,
                      timeout: float | None = None) -> UploadResult:
        """Uploads a (K, J, I) array on ``geometry``; returns its volume id (identical content → same id).

        ``chunk_bytes`` defaults to 1 MiB, or less when ``max_message_bytes`` is smaller.

        ``name`` is stored as a display name only; never pass patient or node names (docs/VIEWER.md §4).
        """
        if not isinstance(geometry, Geometry):
            raise InvalidInputError(f"geometry must be a segcam_client.Geometry; got {type(geometry).__name__}")
        a = np.asarray(array)
        geometry.check_array(a, "volume array")
        voxel_type = voxel_type_of(a.dtype)
        default = min(1 << 20, self.max_message_bytes - FRAMING_BYTES)
        chunk = self._check_chunk(default if chunk_bytes is None else chunk_bytes, allow_zero=False)
        data = to_wire(a)
        header = pb.VolumeHeader(geometry=geometry.to_proto(pb.VolumeGeometry), voxel_type=voxel_type,
                                 name=name or "")
        metadata = self._metadata()

        def requests():
            yield pb.UploadVolumeRequest(header=header)
            for offset, piece in iter_chunks(data, chunk):
                yield pb.UploadVolumeRequest(chunk=pb.VolumeChunk(offset=offset, data=piece))

        try:
            response = self._stub.UploadVolume(requests(), timeout=timeout, metadata=metadata,
                                               compression=self._compression)
        except grpc.RpcError as err:
            raise self._error(err, timeout) from None
        if response.bytes_received != len(data):
            raise SegCamError(KIND_PROTOCOL, f"the server acknowledged {response.bytes_received} bytes of "
                                             f"{len(data)} sent")
        digest = hashlib.sha256(data).hexdigest()
        if response.sha256 and response.sha256.lower() != digest:
            raise SegCamError(KIND_PROTOCOL, f"the server's SHA-256 {response.sha256} differs from the data's "
                                             f"{digest}: the upload was corrupted")
        if not response.volume_id:
            raise SegCamError(KIND_PROTOCOL, "the server returned no volume id")
        with self._lock:
            self._geometries[response.volume_id] = geometry
        return UploadResult(volume_id=response.volume_id, deduplicated=bool(response.deduplicated),
                            sha256=response.sha256 or digest, bytes_received=int(response.bytes_received),
                            idle_seconds=int(response.idle_seconds))

    def delete_volume(self, volume_id: str, timeout: float = 10) -> bool:
        """Forgets a stored volume; True when it existed."""
        response, _ = self._unary(self._stub.DeleteVolume, pb.DeleteVolumeRequest(volume_id=volume_id), timeout)
        with self._lock:
            self._geometries.pop(volume_id, None)
        return bool(response.existed)

    def segment(self, volume, model: str, batch_size: int = 0, on_progress=None,
                timeout: float | None = None) -> np.ndarray:
        """The model's label map (uint8 (K, J, I), value = class index) of a volume."""
        return self.segment_detailed(volume, model, batch_size, on_progress, timeout).labels

    def segment_detailed(self, volume, model: str, batch_size: int = 0, on_progress=None,
                         timeout: float | None = None) -> SegmentResult:
        """Like :meth:`segment`, also returning the summary (voxels per class) and the request id.

        The label map's grid comes from the stream's header; when the client also knows the volume's geometry
        ((array, geometry), (volume_id, geometry) or an id uploaded through this client) the header must match it.
        """
        source, geometry = self._volume_source(volume)
        if not 0 <= int(batch_size) <= 256:
            raise InvalidInputError(f"batch_size must be 0 (server default) to 256; got {batch_size}")
        request = pb.SegmentRequest(volume=source, model=model, batch_size=int(batch_size),
                                    chunk_bytes=self._receive_chunk(0))
        call = self._stub.Segment(request, timeout=timeout, metadata=self._metadata(),
                                  compression=self._compression)
        labels = None
        summary = None
        try:
            for response in call:
                which = response.WhichOneof("event")
                if which == "progress" and on_progress is not None:
                    on_progress(Progress.from_proto(response.progress))
                elif which == "header":
                    grid = Geometry.from_proto(response.header.geometry)
                    problem = geometry.mismatch(grid) if geometry is not None else None
                    if problem:
                        raise SegCamError(KIND_GEOMETRY, f"the label map is not on the image grid: {problem}")
                    labels = SlabAssembler(grid.shape, VOXEL_TYPE_UINT8, out_dtype=np.uint8, name="label map")
                elif which == "labels":
                    if labels is None:
                        raise SegCamError(KIND_PROTOCOL, "label slabs arrived before the label map's header")
                    labels.add(response.labels.voxel_offset, response.labels.data)
                elif which == "summary":
                    s = response.summary
                    summary = SegmentSummary(Timings.from_proto(s.timings), tuple(int(v) for v in s.class_voxels))
            if labels is None:
                raise SegCamError(KIND_PROTOCOL, "the Segment stream ended without a label map header")
            labels.check_complete()
        except grpc.RpcError as err:
            raise self._error(err, timeout) from None
        except BaseException:
            call.cancel()
            raise
        request_id = _metadata_value(call.initial_metadata(), REQUEST_ID_KEY) or \
            _metadata_value(call.trailing_metadata(), REQUEST_ID_KEY)
        return SegmentResult(labels=labels.array, summary=summary, request_id=request_id)

    def start_cam(self, volume, model: str, target_class, pixel_set: PixelSet, methods=None, layers=None,
                  slices=None, options=None, output_type: str = "float32", ground_truth: PixelSet | None = None,
                  chunk_bytes: int = 0, timeout: float | None = 900) -> CamJob:
        """Starts ComputeCam and returns the running :class:`CamJob` (iterate it or call ``wait()``).

        Args:
            volume: volume id, (volume_id, Geometry) or (array (K, J, I), Geometry) sent inline.
            model: ModelInfo.id.
            target_class: class name or index.
            pixel_set: the explained voxels (PixelSet.mask/box/voxels/label/predicted/all).
            methods, layers: names (list or comma-separated); empty = server defaults.
            slices: 2-D models: dict or SliceSelection (axis, first, count).
            options: CamOptions or a dict of its fields.
            output_type: "float32" or "uint8" (quantised, a quarter of the bytes; dequantised here).
            ground_truth: a PixelSet; metrics of every heatmap against it come back.
            chunk_bytes: slab size (0 = server default).
            timeout: deadline in seconds (None = none).
        """
        source, geometry = self._volume_source(volume)
        if not isinstance(pixel_set, PixelSet):
            raise InvalidInputError(f"pixel_set must be a PixelSet (PixelSet.mask/box/voxels/label/predicted/all); "
                                    f"got {type(pixel_set).__name__}")
        pixel_set.validate_for(geometry, "pixel set")
        if ground_truth is not None:
            if not isinstance(ground_truth, PixelSet):
                raise InvalidInputError(f"ground_truth must be a PixelSet or None; got {type(ground_truth).__name__}")
            ground_truth.validate_for(geometry, "ground truth")
        pixel_set = self._compact(pixel_set, geometry, timeout)
        if ground_truth is not None:
            ground_truth = self._compact(ground_truth, geometry, timeout)
        if isinstance(target_class, (int, np.integer)) and not isinstance(target_class, bool):
            target = str(int(target_class))
        elif isinstance(target_class, str) and target_class.strip():
            target = target_class.strip()
        else:
            raise InvalidInputError(f"target_class must be a class name or index; got {target_class!r}")
        if output_type not in _OUTPUT_TYPES:
            raise InvalidInputError(f"output_type {output_type!r} is not allowed; choose float32 or uint8")
        selection = SliceSelection.coerce(slices)
        request = pb.ComputeCamRequest(
            volume=source, model=model, layers=_names(layers, "layers"), target_class=target,
            methods=_names(methods, "methods"), pixel_set=pixel_set.to_proto(pb),
            options=CamOptions.coerce(options).to_proto(pb), output_type=_OUTPUT_TYPES[output_type],
            chunk_bytes=self._receive_chunk(chunk_bytes))
        if selection is not None:
            request.slices.CopyFrom(selection.to_proto(pb))
        if ground_truth is not None:
            request.ground_truth.CopyFrom(ground_truth.to_proto(pb))
        call = self._stub.ComputeCam(request, timeout=timeout, metadata=self._metadata(),
                                     compression=self._compression)
        return CamJob(call, geometry, self.endpoint.target, timeout)

    def _compact(self, pixel_set: PixelSet, geometry: Geometry | None, timeout: float | None) -> PixelSet:
        """A mask whose runs would take more than a quarter of a message is uploaded as a label map instead."""
        if pixel_set.kind != "runs" or geometry is None:
            return pixel_set
        size = pixel_set.encoded_size()
        if size <= self.max_message_bytes // 4:
            return pixel_set
        _LOG.info("pixel-set mask too fragmented for one message (%d bytes of runs); uploading it as a label map", size)
        upload = self.upload_volume(pixel_set.as_mask(), geometry, timeout=timeout)
        return PixelSet.label(upload.volume_id, 1)

    def compute_cam(self, volume, model: str, target_class, pixel_set: PixelSet, methods=None, layers=None,
                    slices=None, options=None, output_type: str = "float32", ground_truth: PixelSet | None = None,
                    chunk_bytes: int = 0, timeout: float | None = 900, on_progress=None, on_slab=None):
        """Blocking :meth:`start_cam` + ``wait``: returns the CamResult; on_progress/on_slab get the events."""
        job = self.start_cam(volume, model, target_class, pixel_set, methods=methods, layers=layers, slices=slices,
                             options=options, output_type=output_type, ground_truth=ground_truth,
                             chunk_bytes=chunk_bytes, timeout=timeout)
        return job.wait(on_progress=on_progress, on_slab=on_slab)
