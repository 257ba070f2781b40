"""segcam_client against the real C# server (`segcam serve`) with the demo models, on 127.0.0.1.

The server is started as a subprocess: `dotnet <cli>/segcam.dll serve --listen 127.0.0.1:0 --models <repo>/models`,
where <cli> is $SEGCAM_CLI_DIR or src/SegCam.Cli/bin/Release/net10.0 (build it first with
`dotnet build SegCamPlugin.sln -c Release`). These tests skip, saying why, only when that build or dotnet is missing.
"""

import hashlib
import os
import queue
import shutil
import subprocess
import sys
import threading
import time

import grpc
import numpy as np
import pytest

from conftest import REPO
from segcam_client import (CamOptions, Geometry, HeatmapStarted, PixelSet, Progress, SegCamClient, SegCamError,
                           SlabReceived)

CLI_DIR = os.environ.get("SEGCAM_CLI_DIR") or os.path.join(REPO, "src", "SegCam.Cli", "bin", "Release", "net10.0")
CLI = os.path.join(CLI_DIR, "segcam.dll")
MODELS = os.path.join(REPO, "models")
DOTNET = shutil.which("dotnet")
READY_PREFIXES = ("segcam: listening on http://", "segcam: listening on https://")
EXAMPLE = os.path.join(REPO, "examples", "python", "compute_heatmap.py")

if not os.path.isfile(CLI):
    pytest.skip(f"the built SegCam CLI is missing ({CLI}); run `dotnet build SegCamPlugin.sln -c Release` or set "
                f"SEGCAM_CLI_DIR to the folder holding segcam.dll", allow_module_level=True)
if DOTNET is None:
    pytest.skip("`dotnet` is not on PATH; the real-server tests need the .NET 10 runtime", allow_module_level=True)

# ---- the test volume: 48 x 40 x 6 (I, J, K) CT-like HU values with a bright blob ---------------------------------

SIZE = (48, 40, 6)
GEOMETRY = Geometry(SIZE, (2.5, 2.5, 3.0), (-60.0, -50.0, 100.0))
BOX = ((24, 12, 1), (37, 25, 5))  # around the blob (min inclusive, max exclusive)


def make_ct():
    k, j, i = np.meshgrid(*[np.arange(n) for n in GEOMETRY.shape], indexing="ij")
    ct = 40 + 25 * np.sin(i / 5.0) + 15 * np.cos(j / 7.0)  # soft tissue around 0..100 HU
    kidney = ((i - 14) ** 2 + (j - 20) ** 2) / 49.0 < 1
    blob = ((i - 30) ** 2 + (j - 18) ** 2) / 36.0 + ((k - 3) ** 2) / 4.0 < 1
    ct[kidney] = 150
    ct[blob] = 200
    labels = np.zeros(GEOMETRY.shape, np.uint8)
    labels[kidney] = 1
    labels[blob] = 2
    return ct.astype(np.float32), labels


CT, LABELS = make_ct()


# ---- server process ---------------------------------------------------------------------------------------------

class Server:
    """`segcam serve` on 127.0.0.1:0; the endpoint comes from the one stdout line printed when ready."""

    def __init__(self, tmp_dir, *extra):
        self.stderr_path = os.path.join(tmp_dir, f"serve-{os.getpid()}-{time.monotonic_ns()}.err")
        self._stderr = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(
            [DOTNET, CLI, "serve", "--listen", "127.0.0.1:0", "--models", MODELS, *extra],
            stdout=subprocess.PIPE, stderr=self._stderr, text=True, cwd=tmp_dir)
        lines = queue.Queue()
        threading.Thread(target=self._pump, args=(lines,), daemon=True).start()
        deadline = time.monotonic() + 60
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                pytest.fail(f"segcam serve printed no '{READY_PREFIXES[0]}...' line within 60 s; stderr:\n"
                            f"{self.stderr()}")
            if line is None:
                self.stop()
                pytest.fail(f"segcam serve exited with {self.process.returncode} before listening; "
                            f"stderr:\n{self.stderr()}")
            prefix = next((p for p in READY_PREFIXES if line.startswith(p)), None)
            if prefix is not None:
                self.endpoint = line[len(prefix):].strip()
                break

    def _pump(self, lines):
        for line in self.process.stdout:  # keep reading so the server never blocks on a full pipe
            lines.put(line)
        self.process.wait()
        lines.put(None)

    def stderr(self):
        self._stderr.flush()
        with open(self.stderr_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-4000:]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._stderr.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("server")))
    yield s
    s.stop()


@pytest.fixture
def client(server):
    with SegCamClient(server.endpoint) as c:
        yield c


@pytest.fixture(scope="module")
def volume_id(server):
    with SegCamClient(server.endpoint) as c:
        return c.upload_volume(CT, GEOMETRY).volume_id


def write_nifti(path, array_kji, geometry):
    import nibabel

    image = nibabel.Nifti1Image(np.ascontiguousarray(array_kji.transpose(2, 1, 0)), geometry.ijk_to_ras())
    image.header.set_xyzt_units("mm", "sec")
    nibabel.save(image, path)


def read_nifti(path):
    import nibabel

    image = nibabel.load(path)
    return np.asarray(image.get_fdata(dtype=np.float32)).transpose(2, 1, 0), image.affine


# ---- handshake --------------------------------------------------------------------------------------------------

def test_server_info(client):
    info = client.server_info()
    assert info.protocol == "segcam.v1" and info.version
    assert {"seg-hires-grad-cam", "seg-grad-cam"} <= set(info.methods)
    assert {"runs", "box", "label", "predicted", "all"} <= set(info.pixel_set_kinds)
    assert info.limits.max_message_bytes > 0 and info.limits.default_chunk_bytes > 0
    assert info.limits.default_chunk_bytes <= info.limits.max_message_bytes
    assert info.limits.max_result_bytes >= info.limits.max_message_bytes
    assert info.auth_required is False and info.execution_provider in ("CPU", "CUDA")


def test_manifest_matches_the_server(client):
    """The viewer-neutral manifest promises no method, pixel set, version or protocol the server does not serve."""
    import json
    with open(os.path.join(REPO, "plugin-manifest", "segcam-plugin.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    info = client.server_info()
    assert set(manifest["capabilities"]["methods"]) <= set(info.methods)
    assert set(manifest["capabilities"]["inputs"]["pixelSets"]) <= set(info.pixel_set_kinds)
    assert manifest["backend"]["protoPackage"] == info.protocol
    assert manifest["version"] == info.version
    assert manifest["backend"]["maxMessageBytes"] <= info.limits.max_message_bytes


def test_list_models(client):
    models = {m.id: m for m in client.list_models()}
    assert {"demo-unet2d", "demo-unet3d"} <= set(models)
    unet2d = models["demo-unet2d"]
    assert unet2d.dimensionality == 2 and unet2d.classes == ("background", "kidney", "tumour")
    assert unet2d.slice_axis == "axial" and unet2d.size_multiple == 8 and unet2d.channels == 1
    assert unet2d.layers and unet2d.default_layer in [layer.name for layer in unet2d.layers]
    assert all(layer.name and layer.role and layer.shape for layer in unet2d.layers)
    assert models["demo-unet3d"].dimensionality == 3


# ---- volumes ----------------------------------------------------------------------------------------------------

def test_upload_deduplicates_and_deletes(client):
    volume = (CT + 1).astype(np.float32)  # content no other test uploads
    first = client.upload_volume(volume, GEOMETRY, chunk_bytes=10_000)
    assert not first.deduplicated and first.bytes_received == volume.nbytes
    assert first.sha256 == hashlib.sha256(volume.astype("<f4").tobytes()).hexdigest()
    second = client.upload_volume(volume, GEOMETRY)
    assert second.volume_id == first.volume_id and second.deduplicated
    assert client.delete_volume(first.volume_id) is True
    assert client.delete_volume(first.volume_id) is False


def test_unknown_volume_is_not_found(client):
    with pytest.raises(SegCamError) as info:
        client.compute_cam("vol-does-not-exist", "demo-unet2d", "tumour", PixelSet.box(*BOX))
    err = info.value
    assert err.code == grpc.StatusCode.NOT_FOUND and err.kind and err.request_id
    assert "vol-does-not-exist" in err.message


def test_unknown_method_is_invalid_argument(client, volume_id):
    with pytest.raises(SegCamError) as info:
        client.compute_cam(volume_id, "demo-unet2d", "tumour", PixelSet.box(*BOX), methods=["seg-magic-cam"])
    err = info.value
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT and "seg-magic-cam" in err.message
    assert err.user_message == err.message and err.request_id


# ---- CAMs -------------------------------------------------------------------------------------------------------

def test_compute_cam_streams_two_methods(client, volume_id):
    events = []
    job = client.start_cam(volume_id, "demo-unet2d", "tumour", PixelSet.box(*BOX),
                           methods=["seg-hires-grad-cam", "seg-grad-cam"], chunk_bytes=48 * 40 * 4)
    for event in job:
        events.append(event)
    result = job.result
    assert [h.method for h in result.heatmaps] == ["seg-hires-grad-cam", "seg-grad-cam"]
    assert result.complete and result.request_id and result.summary is not None
    assert result.summary.pixel_set_voxels == 13 * 13 * 4 and result.summary.units_computed >= 1
    for heat in result.heatmaps:
        assert heat.array.shape == (6, 40, 48) and heat.array.dtype == np.float32
        assert np.isfinite(heat.array).all() and heat.array.max() > 0
        assert heat.geometry.same_grid(GEOMETRY)
        assert heat.array.min() >= 0  # ReLU on by default
        assert abs(float(heat.array.max()) - heat.max) <= 1e-6 * max(1.0, abs(heat.max))
    slabs = [e for e in events if isinstance(e, SlabReceived)]
    headers = [e for e in events if isinstance(e, HeatmapStarted)]
    assert len(headers) == 2 and any(isinstance(e, Progress) for e in events)
    for header in headers:
        mine = [s for s in slabs if s.heatmap == header.index]
        covered = sorted(k for s in mine for k in range(s.k0, s.k1))
        assert covered == list(range(header.first_slice, header.first_slice + header.slice_count))
        assert header.slice_count > 0 and mine[-1].slices_complete == 6  # the box gives a non-zero map
    assert type(events[-1]).__name__ == "Summary"
    completed = [e for e in events if type(e).__name__ == "HeatmapCompleted"]
    assert sorted(e.heatmap for e in completed) == sorted(h.index for h in headers)
    for e in completed:  # after the heatmap's last slab, with the range of the whole heatmap
        assert events.index(e) > max(events.index(s) for s in slabs if s.heatmap == e.heatmap)


def test_mask_label_and_box_pixel_sets_agree(client, volume_id):
    lo, hi = BOX
    mask = np.zeros(GEOMETRY.shape, bool)
    mask[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]] = True
    box = client.compute_cam(volume_id, "demo-unet2d", "tumour", PixelSet.box(lo, hi)).heatmaps[0].array
    runs = client.compute_cam(volume_id, "demo-unet2d", "tumour", PixelSet.mask(mask)).heatmaps[0].array
    label_id = client.upload_volume(mask.astype(np.uint8) * 7, GEOMETRY).volume_id
    label = client.compute_cam(volume_id, "demo-unet2d", "tumour", PixelSet.label(label_id, 7)).heatmaps[0].array
    assert np.array_equal(box, runs) and np.array_equal(box, label)


def test_inline_volume_equals_uploaded(client, volume_id):
    uploaded = client.compute_cam(volume_id, "demo-unet2d", "tumour", PixelSet.box(*BOX))
    inline = client.compute_cam((CT, GEOMETRY), "demo-unet2d", "tumour", PixelSet.box(*BOX))
    assert np.array_equal(uploaded.heatmaps[0].array, inline.heatmaps[0].array)


def test_uint8_output_is_close_to_float32(client, volume_id):
    exact = client.compute_cam(volume_id, "demo-unet2d", "tumour", PixelSet.box(*BOX)).heatmaps[0]
    quantised = client.compute_cam(volume_id, "demo-unet2d", "tumour", PixelSet.box(*BOX),
                                   output_type="uint8").heatmaps[0]
    step = (exact.max - exact.min) / 255
    assert np.abs(quantised.array - exact.array).max() <= step / 2 + 1e-5 * exact.max


def test_ground_truth_metrics_and_options(client, volume_id):
    label_id = client.upload_volume(LABELS, GEOMETRY).volume_id
    result = client.compute_cam(volume_id, "demo-unet2d", "tumour", PixelSet.label(label_id, 2),
                                methods="seg-hires-grad-cam,seg-grad-cam", ground_truth=PixelSet.label(label_id, 2),
                                options=CamOptions(normalization="max"))
    assert set(result.metrics) == {0, 1}
    for metrics in result.metrics.values():
        assert 0 <= metrics["energy_inside"] <= 1 and 0 <= metrics["mean_dice"] <= 1 and 0 <= metrics["auprc"] <= 1
    for heat in result.heatmaps:
        assert abs(float(heat.array.max()) - 1.0) < 1e-6  # normalised by the maximum


def test_a_fragmented_mask_too_big_for_a_message_goes_as_a_label_map(server):
    grid = Geometry((128, 96, 4), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    ct = (np.random.default_rng(3).random(grid.shape) * 300 - 50).astype(np.float32)
    checker = (np.indices(grid.shape).sum(axis=0) % 2).astype(bool)  # every other voxel: one run per voxel
    with SegCamClient(server.endpoint, max_message_bytes=64 * 1024) as small:
        assert PixelSet.mask(checker).encoded_size() > small.max_message_bytes  # would not fit one request
        vid = small.upload_volume(ct, grid).volume_id
        via_mask = small.compute_cam(vid, "demo-unet2d", "kidney", PixelSet.mask(checker), methods="seg-grad-cam")
        label_id = small.upload_volume(checker.astype(np.uint8), grid).volume_id
        via_label = small.compute_cam(vid, "demo-unet2d", "kidney", PixelSet.label(label_id, 1), methods="seg-grad-cam")
    assert via_mask.complete and np.array_equal(via_mask.heatmaps[0].array, via_label.heatmaps[0].array)
    assert via_mask.heatmaps[0].array.max() > 0


def test_activation_resolution_gives_blocks_of_the_layer_grid(client, volume_id):
    box = PixelSet.box((10, 8, 0), (40, 32, 6))
    smooth = client.compute_cam(volume_id, "demo-unet2d", "kidney", box, methods="seg-grad-cam").heatmaps[0].array
    blocks = client.compute_cam(volume_id, "demo-unet2d", "kidney", box, methods="seg-grad-cam",
                                options=CamOptions(resolution="activation")).heatmaps[0].array
    k = int(np.argmax(blocks.reshape(blocks.shape[0], -1).max(axis=1)))
    # The bottleneck of a 48x40 slice is 8x fewer pixels per axis: far fewer distinct values than the smooth map.
    assert 1 < len(np.unique(blocks[k])) < len(np.unique(smooth[k])) / 4
    with pytest.raises(SegCamError):
        CamOptions(resolution="sub-pixel")


def test_segment(client, volume_id):
    # The Segment stream carries no geometry: a volume id uploaded by another client needs its grid passed along.
    labels = client.segment((volume_id, GEOMETRY), "demo-unet2d")
    assert labels.dtype == np.uint8 and labels.shape == GEOMETRY.shape and set(np.unique(labels)) <= {0, 1, 2}
    inline = client.segment((CT, GEOMETRY), "demo-unet2d")
    assert np.array_equal(labels, inline)


def test_cancel_stops_a_running_computation(server):
    big = Geometry((128, 128, 96), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    rng = np.random.default_rng(0)
    volume = (rng.random(big.shape) * 200).astype(np.float32)
    errors, events = [], []
    with SegCamClient(server.endpoint) as c:
        volume_id = c.upload_volume(volume, big).volume_id
        job = c.start_cam(volume_id, "demo-unet2d", "tumour", PixelSet.all(),
                          methods=["seg-hires-grad-cam", "seg-grad-cam"], options=CamOptions(batch_size=1))
        started = threading.Event()

        def worker():
            try:
                for event in job:
                    events.append(event)
                    started.set()
            except SegCamError as err:
                errors.append(err)

        thread = threading.Thread(target=worker)
        thread.start()
        assert started.wait(60), "no event within 60 s"
        cancelled_at = time.monotonic()
        job.cancel()
        thread.join(30)
        assert not thread.is_alive()
        stopped_after = time.monotonic() - cancelled_at
        assert errors and errors[0].kind == "cancelled", f"events: {[type(e).__name__ for e in events]}"
        assert stopped_after < 5, f"the iteration ended {stopped_after:.1f} s after cancel"
        assert not errors[0].partial_result.complete
        # The server is still healthy and serves the next call.
        assert c.server_info().protocol == "segcam.v1"


def test_deadline_exceeded(client, volume_id):
    with pytest.raises(SegCamError) as info:
        client.compute_cam(volume_id, "demo-unet2d", "tumour", PixelSet.all(), timeout=0.001)
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED and "0.001 s" in info.value.user_message


def test_3d_model_on_a_volume(client):
    shape_geometry = Geometry((64, 64, 32), (2.5, 2.5, 3.0), (-80.0, -80.0, 0.0))
    k, j, i = np.meshgrid(*[np.arange(n) for n in shape_geometry.shape], indexing="ij")
    volume = (40 + 160 * ((((i - 32) ** 2 + (j - 30) ** 2) / 64.0 + ((k - 16) ** 2) / 16.0) < 1)).astype(np.float32)
    result = client.compute_cam((volume, shape_geometry), "demo-unet3d", "tumour",
                                PixelSet.box((26, 24, 12), (38, 36, 20)))
    heat = result.heatmaps[0]
    assert result.complete and heat.array.shape == (32, 64, 64) and np.isfinite(heat.array).all()


# ---- authentication -----------------------------------------------------------------------------------------------

def test_api_key(tmp_path):
    key_file = tmp_path / "api.key"
    key_file.write_text("k3y-for-tests\n")
    server = Server(str(tmp_path), "--api-key-file", str(key_file))
    try:
        with SegCamClient(server.endpoint) as anonymous, pytest.raises(SegCamError) as info:
            anonymous.server_info()
        assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
        assert "token once more" in info.value.user_message
        with SegCamClient(server.endpoint, token="wrong-key") as wrong, pytest.raises(SegCamError) as info:
            wrong.list_models()
        assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
        with SegCamClient(server.endpoint, token="k3y-for-tests") as c:
            assert c.server_info().auth_required is True
            volume_id = c.upload_volume(CT, GEOMETRY).volume_id
            result = c.compute_cam(volume_id, "demo-unet2d", "tumour", PixelSet.box(*BOX))
            assert result.complete
    finally:
        server.stop()


def test_tls_with_a_ca_file(tmp_path):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not on PATH; it makes the self-signed certificate of this TLS test")
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=segcam-test", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    server = Server(str(tmp_path), "--tls-cert", cert, "--tls-key", key)
    try:
        with SegCamClient(server.endpoint, ca_file=cert) as c:
            assert c.transport.mode == "tls"
            assert c.server_info().protocol == "segcam.v1"
            assert c.compute_cam((CT, GEOMETRY), "demo-unet2d", "tumour", PixelSet.box(*BOX)).complete
        # Without the CA the certificate is not trusted: the client never skips verification.
        with SegCamClient(f"https://{server.endpoint}") as c, pytest.raises(SegCamError) as info:
            c.server_info(timeout=10)
        assert info.value.code == grpc.StatusCode.UNAVAILABLE and "TLS" in info.value.user_message
        # Plaintext (the loopback default) to a TLS server fails the same way, with the same hint.
        with SegCamClient(server.endpoint) as c, pytest.raises(SegCamError) as info:
            c.server_info(timeout=10)
        assert info.value.code == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop()


def test_server_exits_on_sigterm(tmp_path):
    # Service managers (systemd, docker stop) and test harnesses stop the server with SIGTERM.
    server = Server(str(tmp_path))
    try:
        server.process.terminate()
        try:
            code = server.process.wait(10)
        except subprocess.TimeoutExpired:
            code = None
        assert code is not None, "segcam serve was still running 10 s after SIGTERM"
    finally:
        server.stop()


# ---- the same numbers as the in-process engine (segcam cam) ---------------------------------------------------

def test_server_heatmap_equals_the_cli(client, volume_id, tmp_path):
    pytest.importorskip("nibabel", reason="python3-nibabel is needed to write the NIfTI input of `segcam cam`")
    image = str(tmp_path / "ct.nii.gz")
    write_nifti(image, CT, GEOMETRY)
    out = str(tmp_path / "cli-heat.nii.gz")
    (lo, hi) = BOX
    run = subprocess.run(
        [DOTNET, CLI, "cam", "--model", os.path.join(MODELS, "demo-unet2d.onnx"), "--input", image,
         "--class", "tumour", "--bbox", f"{lo[0]},{lo[1]},{lo[2]}:{hi[0]},{hi[1]},{hi[2]}",
         "--method", "seg-hires-grad-cam", "--out", out],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    cli_heat, cli_affine = read_nifti(out)
    assert np.allclose(cli_affine, GEOMETRY.ijk_to_ras(), atol=1e-4)  # the C# NIfTI round trip keeps the grid
    served = client.compute_cam(volume_id, "demo-unet2d", "tumour", PixelSet.box(lo, hi),
                                methods=["seg-hires-grad-cam"]).heatmaps[0].array
    assert cli_heat.shape == served.shape and cli_heat.max() > 0
    assert np.abs(cli_heat - served).max() <= 1e-6 * float(np.abs(cli_heat).max())


# ---- the scripted example, end to end ----------------------------------------------------------------------------

def test_example_script_end_to_end(server, tmp_path):
    nibabel = pytest.importorskip("nibabel", reason="python3-nibabel is needed by examples/python/compute_heatmap.py")
    image, labels = str(tmp_path / "ct.nii.gz"), str(tmp_path / "seg.nii.gz")
    write_nifti(image, CT, GEOMETRY)
    write_nifti(labels, LABELS, GEOMETRY)
    out = tmp_path / "heatmaps"
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "src", "SlicerSegCam", "SegCam"))
    env.pop("SEGCAM_ENDPOINT", None)
    env.pop("SEGCAM_TOKEN", None)
    run = subprocess.run(
        [sys.executable, EXAMPLE, "--server", server.endpoint, "--image", image, "--labels", labels, "--label", "2",
         "--ground-truth-label", "2", "--model", "demo-unet2d", "--class", "tumour",
         "--methods", "seg-hires-grad-cam,seg-grad-cam", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "explain" in run.stderr  # the progress line
    assert "energy inside" in run.stdout and "seg-grad-cam" in run.stdout
    with SegCamClient(server.endpoint) as c:
        label_id = c.upload_volume(LABELS, GEOMETRY).volume_id
        volume_id = c.upload_volume(CT, GEOMETRY).volume_id
        expected = c.compute_cam(volume_id, "demo-unet2d", "tumour", PixelSet.label(label_id, 2),
                                 methods=["seg-hires-grad-cam", "seg-grad-cam"])
    for heat in expected.heatmaps:
        written = nibabel.load(str(out / f"{heat.method}.nii.gz"))
        assert np.allclose(written.affine, nibabel.load(image).affine)
        assert np.array_equal(np.asarray(written.dataobj).transpose(2, 1, 0), heat.array)
        assert (out / f"{heat.method}.segcam.json").is_file()


def test_example_script_reports_errors(server, tmp_path):
    pytest.importorskip("nibabel", reason="python3-nibabel is needed by examples/python/compute_heatmap.py")
    image = str(tmp_path / "ct.nii.gz")
    write_nifti(image, CT, GEOMETRY)
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "src", "SlicerSegCam", "SegCam"))
    run = subprocess.run(
        [sys.executable, EXAMPLE, "--server", server.endpoint, "--image", image, "--bbox", "24,12,1:37,25,5",
         "--model", "demo-unet2d", "--class", "tumour", "--methods", "seg-magic-cam", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 1 and "seg-magic-cam" in run.stderr and "status: INVALID_ARGUMENT" in run.stderr
