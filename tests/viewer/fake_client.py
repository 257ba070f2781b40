"""A stand-in for ``segcam_client`` with the same names and shapes, for tests that must run without grpc."""

import threading
from types import SimpleNamespace

import numpy as np


class SegCamError(Exception):
    def __init__(self, kind, message, code=None, request_id=None):
        super().__init__(message)
        self.kind, self.message, self.code, self.request_id = kind, message, code, request_id


class Progress(SimpleNamespace):
    pass


class HeatmapStarted(SimpleNamespace):
    pass


class SlabReceived(SimpleNamespace):
    pass


class MetricsReceived(SimpleNamespace):
    pass


class Summary(SimpleNamespace):
    pass


class FakeGeometry:
    def __init__(self, size, shift=0.0):
        self.size = tuple(size)
        self.shift = shift

    def same_grid(self, other, tol=1e-4):
        return self.size == other.size and abs(self.shift - other.shift) <= tol


def values(index, shape):
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    return (((i + 2 * j + 3 * k + index) % 10) / 10.0).astype(np.float32)


class FakeJob:
    """Yields progress, per method a header and one slab per slice, optional metrics, a summary."""

    def __init__(self, client, volume_id, methods, layers, ground_truth, slab_gate=None):
        self.client = client
        self.methods = methods or ["seg-hires-grad-cam"]
        self.layer = (layers or ["enc1"])[0]
        self.ground_truth = ground_truth
        self.cancelled = threading.Event()
        self.heatmaps = []
        self.slab_gate = slab_gate
        self.volume_id = volume_id
        self.result = None

    def cancel(self):
        self.cancelled.set()

    def __iter__(self):
        client = self.client
        if self.volume_id not in client.stored:
            raise SegCamError("NotFound", f"volume '{self.volume_id}' not found", "NOT_FOUND", "req-nf")
        if client.fail_with is not None:
            raise client.fail_with
        shape = client.shape
        geometry = client.echo_geometry or FakeGeometry(shape[::-1])
        yield Progress(stage="explain", done=0, total=shape[0], elapsed_seconds=0.0, remaining_seconds=None)
        for index, method in enumerate(self.methods):
            array = np.zeros(shape, np.float32)
            heatmap = SimpleNamespace(index=index, method=method, layer=self.layer, array=array,
                                      geometry=geometry, min=0.0, max=0.9, complete=False)
            self.heatmaps.append(heatmap)
            yield HeatmapStarted(index=index, method=method, layer=self.layer, geometry=geometry, min=0.0, max=0.9)
            full = values(index, shape)
            for k in range(shape[0]):
                if self.cancelled.is_set():
                    raise SegCamError("Cancelled", "cancelled by the client", "CANCELLED", "req-c")
                if self.slab_gate is not None:
                    self.slab_gate(k)
                array[k] = full[k]
                if client.empty_slabs:
                    yield SlabReceived(heatmap=index, k0=k, k1=k, slices_complete=k)  # bytes, no whole slice
                yield client.slab_event(heatmap, k)
            heatmap.complete = True
            if self.ground_truth is not None:
                yield MetricsReceived(heatmap=index, energy_inside=0.5, mean_dice=0.25, auprc=0.75)
        yield Summary(units_computed=shape[0])
        self.result = SimpleNamespace(heatmaps=self.heatmaps, metrics=[], summary=None, request_id="req-ok")


class FakeClient:
    def __init__(self, shape=(4, 3, 5), slab_ref="index"):
        self.shape = shape
        self.stored = set()
        self.uploads = 0
        self.calls = []
        self.fail_with = None
        self.echo_geometry = None
        self.slab_gate = None
        self.empty_slabs = False
        self._slab_ref = slab_ref

    def slab_event(self, heatmap, k):
        """SlabReceived naming the heatmap by index, by object, or by index with a read-only ``values`` view."""
        if self._slab_ref == "values":
            view = heatmap.array[k:k + 1].view()
            view.setflags(write=False)
            return SlabReceived(heatmap=heatmap.index, k0=k, k1=k + 1, slices_complete=k + 1, values=view)
        ref = heatmap.index if self._slab_ref == "index" else heatmap
        return SlabReceived(heatmap=ref, k0=k, k1=k + 1, slices_complete=k + 1)

    def upload_volume(self, array, geometry, name=None):
        assert name is None, "no node name may leave the computer"
        assert array.shape == self.shape
        self.uploads += 1
        volume_id = f"vol-{self.uploads}"
        self.stored.add(volume_id)
        return SimpleNamespace(volume_id=volume_id, deduplicated=False, sha256="0" * 64)

    def start_cam(self, volume_id, model, target_class, pixel_set, methods=None, layers=None, slices=None,
                  options=None, output_type="float32", ground_truth=None, timeout=900):
        self.calls.append(dict(volume_id=volume_id, model=model, target_class=target_class, methods=methods,
                               layers=layers, ground_truth=ground_truth, timeout=timeout))
        return FakeJob(self, volume_id, methods, layers, ground_truth, self.slab_gate)
