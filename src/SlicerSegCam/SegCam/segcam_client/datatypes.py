"""Plain data classes of the client API: server and model info, request options, stream events and results.

They mirror the messages of segcam.proto with Python names and numpy arrays, so callers (the Slicer module, scripts)
never touch generated protobuf classes.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .errors import InvalidInputError
from .geometry import Geometry

# ---- server and models ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ServerLimits:
    """segcam.v1.ServerLimits (0 = not reported)."""

    max_voxels: int = 0
    max_message_bytes: int = 0
    default_chunk_bytes: int = 0
    max_stored_bytes: int = 0
    volume_idle_seconds: int = 0
    max_concurrent: int = 0
    max_queued: int = 0
    max_inline_bytes: int = 0
    max_result_bytes: int = 0

    @classmethod
    def from_proto(cls, message) -> "ServerLimits":
        return cls(**{f.name: int(getattr(message, f.name)) for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    """segcam.v1.GetServerInfoResponse."""

    version: str
    execution_provider: str
    device_note: str
    methods: tuple
    pixel_set_kinds: tuple
    limits: ServerLimits
    auth_required: bool
    protocol: str

    @classmethod
    def from_proto(cls, message) -> "ServerInfo":
        return cls(version=message.version, execution_provider=message.execution_provider,
                   device_note=message.device_note, methods=tuple(message.methods),
                   pixel_set_kinds=tuple(message.pixel_set_kinds), limits=ServerLimits.from_proto(message.limits),
                   auth_required=bool(message.auth_required), protocol=message.protocol)


@dataclasses.dataclass(frozen=True)
class LayerInfo:
    """A candidate target layer: exact ONNX tensor name, role ("bottleneck", "decoder-2"), probed shape, op."""

    name: str
    role: str
    shape: tuple
    op_type: str

    @classmethod
    def from_proto(cls, message) -> "LayerInfo":
        return cls(name=message.name, role=message.role, shape=tuple(int(v) for v in message.shape),
                   op_type=message.op_type)


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """segcam.v1.ModelInfo."""

    id: str
    name: str
    dimensionality: int
    channels: int
    classes: tuple
    input_size: tuple
    size_multiple: int
    slice_axis: str
    default_layer: str
    layers: list
    preprocessing: str
    metrics: dict

    @classmethod
    def from_proto(cls, message) -> "ModelInfo":
        return cls(id=message.id, name=message.name, dimensionality=int(message.dimensionality),
                   channels=int(message.channels), classes=tuple(message.classes),
                   input_size=tuple(int(v) for v in message.input_size), size_multiple=int(message.size_multiple),
                   slice_axis=message.slice_axis, default_layer=message.default_layer,
                   layers=[LayerInfo.from_proto(layer) for layer in message.layers],
                   preprocessing=message.preprocessing, metrics=dict(message.metrics))

    def class_index(self, target_class) -> int:
        """Index of a class given by name or index; InvalidInputError listing the classes otherwise."""
        if isinstance(target_class, (int, np.integer)) and 0 <= int(target_class) < len(self.classes):
            return int(target_class)
        if isinstance(target_class, str) and target_class in self.classes:
            return self.classes.index(target_class)
        if isinstance(target_class, str) and target_class.isdigit() and int(target_class) < len(self.classes):
            return int(target_class)
        raise InvalidInputError(f"class {target_class!r} is not a class of model '{self.id}'; "
                                f"allowed: {', '.join(self.classes)} or 0..{len(self.classes) - 1}")


@dataclasses.dataclass(frozen=True)
class UploadResult:
    """segcam.v1.UploadVolumeResponse."""

    volume_id: str
    deduplicated: bool
    sha256: str
    bytes_received: int
    idle_seconds: int = 0


# ---- request options ------------------------------------------------------------------------------------------


def _choice(value, name: str, allowed: tuple) -> str:
    if value not in allowed:
        raise InvalidInputError(f"{name} {value!r} is not allowed; choose one of: {', '.join(allowed)}")
    return value


@dataclasses.dataclass
class SliceSelection:
    """Which slices a 2-D model explains: axis ("" = the model's), first slice, count (0 = to the end)."""

    axis: str = ""
    first: int = 0
    count: int = 0

    AXES = ("", "axial", "coronal", "sagittal")

    def __post_init__(self) -> None:
        _choice(self.axis, "slices.axis", self.AXES)
        if int(self.first) < 0 or int(self.count) < 0:
            raise InvalidInputError(f"slices.first and slices.count must be >= 0; got {self.first}, {self.count}")

    @classmethod
    def coerce(cls, value) -> "SliceSelection | None":
        """None, a SliceSelection or a dict with keys axis, first, count."""
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {"axis", "first", "count"}
            if unknown:
                raise InvalidInputError(f"slices has unknown keys {sorted(unknown)}; allowed: axis, first, count")
            return cls(**value)
        raise InvalidInputError(f"slices must be a dict (axis, first, count) or a SliceSelection; got "
                                f"{type(value).__name__}")

    def to_proto(self, pb):
        return pb.SliceSelection(axis=self.axis, first=int(self.first), count=int(self.count))


@dataclasses.dataclass
class CamOptions:
    """segcam.v1.CamOptions with readable values; defaults equal the server's."""

    relu: bool = True
    normalization: str = "none"
    normalization_scope: str = "volume"
    target: str = "logits"
    precision: str = "float32"
    xres_window: int = 0
    xres_pool: str = "mean"
    batch_size: int = 0
    resolution: str = "input"  # "activation": the layer's own grid, shown as blocks

    _NORMALIZATION = {"none": 0, "max": 1, "minmax": 2}
    _SCOPE = {"volume": 0, "slice": 1}
    _TARGET = {"logits": 0, "probabilities": 1}
    _PRECISION = {"float32": 0, "float64": 1}
    _POOL = {"mean": 0, "max": 1}
    _RESOLUTION = {"input": 0, "activation": 1}

    def __post_init__(self) -> None:
        _choice(self.normalization, "options.normalization", tuple(self._NORMALIZATION))
        _choice(self.normalization_scope, "options.normalization_scope", tuple(self._SCOPE))
        _choice(self.target, "options.target", tuple(self._TARGET))
        _choice(self.precision, "options.precision", tuple(self._PRECISION))
        _choice(self.xres_pool, "options.xres_pool", tuple(self._POOL))
        _choice(self.resolution, "options.resolution", tuple(self._RESOLUTION))
        if not isinstance(self.relu, bool):
            raise InvalidInputError(f"options.relu must be True or False; got {self.relu!r}")
        if int(self.xres_window) < 0:
            raise InvalidInputError(f"options.xres_window must be >= 0 (0 = server default 2); got {self.xres_window}")
        if not 0 <= int(self.batch_size) <= 256:
            raise InvalidInputError(f"options.batch_size must be 0 (server default) to 256; got {self.batch_size}")

    @classmethod
    def coerce(cls, value) -> "CamOptions":
        """None (defaults), a CamOptions or a dict of its fields."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            names = {f.name for f in dataclasses.fields(cls)}
            unknown = set(value) - names
            if unknown:
                raise InvalidInputError(f"options has unknown keys {sorted(unknown)}; "
                                        f"allowed: {', '.join(sorted(names))}")
            return cls(**value)
        raise InvalidInputError(f"options must be a CamOptions or a dict; got {type(value).__name__}")

    def to_proto(self, pb):
        return pb.CamOptions(relu=self.relu, normalization=self._NORMALIZATION[self.normalization],
                             normalization_scope=self._SCOPE[self.normalization_scope],
                             target=self._TARGET[self.target], precision=self._PRECISION[self.precision],
                             xres_window=int(self.xres_window), xres_pool=self._POOL[self.xres_pool],
                             batch_size=int(self.batch_size), resolution=self._RESOLUTION[self.resolution])


# ---- stream events ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Progress:
    """segcam.v1.Progress: stage ("queued", "segment", "explain", "stream"), units done/total, seconds."""

    stage: str
    done: int
    total: int
    elapsed_seconds: float
    remaining_seconds: float | None = None

    @property
    def fraction(self) -> float | None:
        """done/total in [0, 1], or None when the total is unknown (show an indeterminate bar)."""
        return min(1.0, self.done / self.total) if self.total > 0 else None

    @classmethod
    def from_proto(cls, message) -> "Progress":
        remaining = message.remaining_seconds if message.HasField("remaining_seconds") else None
        return cls(stage=message.stage, done=int(message.done), total=int(message.total),
                   elapsed_seconds=float(message.elapsed_seconds), remaining_seconds=remaining)


@dataclasses.dataclass(frozen=True)
class HeatmapStarted:
    """A heatmap was announced; its (zero-filled) array is result.heatmaps[...] with this index."""

    index: int
    method: str
    layer: str
    geometry: Geometry
    min: float
    max: float
    first_slice: int = 0  # only k-slices [first_slice, first_slice + slice_count) will arrive; the rest is zero
    slice_count: int = 0
    streaming: bool = False  # slabs arrive while the server computes; min/max come with HeatmapCompleted


@dataclasses.dataclass(frozen=True)
class HeatmapCompleted:
    """Every slab of heatmap ``heatmap`` arrived; its final value range (result.heatmaps[...] now holds it too)."""

    heatmap: int
    min: float
    max: float


@dataclasses.dataclass(frozen=True)
class SlabReceived:
    """Voxels of heatmap ``heatmap`` arrived; slices [k0, k1) became whole with this slab (k0 == k1: none yet).

    ``slices_complete`` counts whole slices [0, n) received so far; ``values`` is a read-only view of the
    finished slices [k0:k1] of the heatmap's array (they are not written again).
    """

    heatmap: int
    k0: int
    k1: int
    slices_complete: int
    values: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)


@dataclasses.dataclass(frozen=True)
class MetricsReceived:
    """segcam.v1.HeatmapMetrics of one heatmap against the ground truth."""

    heatmap: int
    energy_inside: float
    mean_dice: float
    auprc: float


@dataclasses.dataclass(frozen=True)
class Timings:
    queue_seconds: float = 0.0
    compute_seconds: float = 0.0
    total_seconds: float = 0.0

    @classmethod
    def from_proto(cls, message) -> "Timings":
        return cls(float(message.queue_seconds), float(message.compute_seconds), float(message.total_seconds))


@dataclasses.dataclass(frozen=True)
class Summary:
    """segcam.v1.ComputeCamSummary: the last message of a successful CAM stream."""

    timings: Timings
    units_computed: int
    units_skipped: int
    layers: tuple
    execution_provider: str
    pixel_set_voxels: int

    @classmethod
    def from_proto(cls, message) -> "Summary":
        return cls(timings=Timings.from_proto(message.timings), units_computed=int(message.units_computed),
                   units_skipped=int(message.units_skipped), layers=tuple(message.layers),
                   execution_provider=message.execution_provider, pixel_set_voxels=int(message.pixel_set_voxels))


# ---- results ------------------------------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class Heatmap:
    """One heatmap: float32 (K, J, I) values on ``geometry``; ``complete`` only after a successful stream."""

    index: int
    method: str
    layer: str
    array: np.ndarray = dataclasses.field(repr=False)
    geometry: Geometry
    min: float
    max: float
    complete: bool = False
    first_slice: int = 0  # slices outside [first_slice, first_slice + slice_count) are exactly zero, never sent
    slice_count: int = 0


@dataclasses.dataclass(eq=False)
class CamResult:
    """Heatmaps in index order, metrics by heatmap index, the summary and the server's request id."""

    heatmaps: list = dataclasses.field(default_factory=list)
    metrics: dict = dataclasses.field(default_factory=dict)
    summary: Summary | None = None
    request_id: str | None = None

    @property
    def complete(self) -> bool:
        return bool(self.heatmaps) and all(h.complete for h in self.heatmaps)

    def by_method(self, method: str) -> list:
        return [h for h in self.heatmaps if h.method == method]


@dataclasses.dataclass(frozen=True)
class SegmentSummary:
    timings: Timings
    class_voxels: tuple


@dataclasses.dataclass(eq=False)
class SegmentResult:
    """A label map (uint8 (K, J, I), value = class index), its summary and the server's request id."""

    labels: np.ndarray
    summary: SegmentSummary | None
    request_id: str | None
