#!/usr/bin/env python3
"""Compute class activation maps for a NIfTI CT on a SegCam server and write them as NIfTI heatmaps.

Example (a server started with `segcam serve --listen 127.0.0.1:5055 --models models`):

    PYTHONPATH=src/SlicerSegCam/SegCam python3 examples/python/compute_heatmap.py \\
        --server 127.0.0.1:5055 --image ct.nii.gz --labels seg.nii.gz --label 2 \\
        --model demo-unet2d --class tumour --methods seg-hires-grad-cam,seg-grad-cam --out heatmaps/

The pixel set (the voxels whose class score is explained) is --labels/--label, or --bbox, or --pixel-set.
Heatmaps land in OUT as <method>.nii.gz on the input's affine, each with a <method>.segcam.json provenance file.
Only voxels, geometry and the pixel set go to the server: no file names or NIfTI header fields.
Needs numpy, grpcio, protobuf and nibabel. Exit status: 0 done, 1 SegCam error, 2 bad arguments, 130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

try:
    import segcam_client  # noqa: F401
except ImportError:  # running from a checkout without PYTHONPATH: use the repository's copy
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "SlicerSegCam",
                                    "SegCam"))

from segcam_client import CamOptions, Geometry, PixelSet, SegCamClient, SegCamError  # noqa: E402
from segcam_client.policy import read_token_file, resolve_settings  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", help="host:port of the SegCam server (default: $SEGCAM_ENDPOINT or 127.0.0.1:5055)")
    p.add_argument("--token-file", help="file holding the server's API key (default: $SEGCAM_TOKEN, if set)")
    p.add_argument("--ca-file", help="PEM CA bundle for TLS to a remote server (default: $SEGCAM_CA_FILE)")
    p.add_argument("--allow-insecure-remote", action="store_true",
                   help="allow plaintext to a non-loopback server (images travel unencrypted)")
    p.add_argument("--image", required=True, help="CT volume, .nii or .nii.gz")
    p.add_argument("--labels", help="label map on the CT's grid (.nii/.nii.gz)")
    p.add_argument("--label", type=int, help="label value of --labels that forms the pixel set")
    p.add_argument("--bbox", help="pixel set as a voxel box MIN:MAX, i,j,k:i,j,k (max exclusive)")
    p.add_argument("--pixel-set", choices=["predicted", "all"], help="pixel set: the model's prediction or all")
    p.add_argument("--ground-truth-label", type=int,
                   help="label value of --labels used as ground truth: prints energy inside, mean Dice, AUPRC")
    p.add_argument("--model", required=True, help="model id (see the server's model list)")
    p.add_argument("--class", dest="target_class", required=True, help="class name or index to explain")
    p.add_argument("--methods", default="seg-hires-grad-cam", help="comma-separated CAM method ids")
    p.add_argument("--layers", help="comma-separated target layers (tensor names or roles); default: the model's")
    p.add_argument("--normalization", choices=["none", "max", "minmax"], default="none")
    p.add_argument("--timeout", type=float, default=900, help="seconds before giving up (default 900)")
    p.add_argument("--out", required=True, help="output folder")
    args = p.parse_args(argv)
    chosen = [args.label is not None, args.bbox is not None, args.pixel_set is not None]
    if sum(chosen) != 1:
        p.error("give exactly one pixel set: --labels FILE --label N, --bbox i,j,k:i,j,k or --pixel-set")
    if (args.label is not None or args.ground_truth_label is not None) and not args.labels:
        p.error("--label and --ground-truth-label need --labels FILE")
    if args.bbox is not None:
        try:
            lo, hi = (tuple(int(v) for v in part.split(",")) for part in args.bbox.split(":"))
            if len(lo) != 3 or len(hi) != 3:
                raise ValueError
        except ValueError:
            p.error(f"--bbox '{args.bbox}' must be i,j,k:i,j,k (six integers)")
        args.box = (lo, hi)
    return args


def load_nifti(path, what, integer=False):
    """(array (K, J, I), Geometry, nibabel image) of a 3-D NIfTI file."""
    import nibabel

    try:
        image = nibabel.load(path)
    except (OSError, nibabel.filebasedimages.ImageFileError) as exc:
        raise SystemExit(f"compute_heatmap: cannot read {what} '{path}': {exc}")
    shape = image.shape
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise SystemExit(f"compute_heatmap: {what} '{path}' has shape {image.shape}; a 3-D volume is needed")
    if integer:
        data = np.asanyarray(image.dataobj).reshape(shape)
        if not np.all(np.equal(np.mod(data, 1), 0)):
            raise SystemExit(f"compute_heatmap: {what} '{path}' holds non-integer values; a label map is needed")
        data = data.astype(np.uint8 if data.min() >= 0 and data.max() <= 255 else np.int32)
    else:
        data = image.get_fdata(dtype=np.float32).reshape(shape)
    # nibabel arrays are (I, J, K) with an IJK→RAS affine; segcam_client wants (K, J, I) and LPS.
    geometry = Geometry.from_ijk_to_ras(image.affine, shape)
    return np.ascontiguousarray(data.transpose(2, 1, 0)), geometry, image


class ProgressLine:
    """One updating progress line on stderr."""

    def __init__(self):
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.slabs = 0

    def progress(self, p):
        percent = f" {100 * p.fraction:.0f}%" if p.fraction is not None else ""
        left = f", ~{p.remaining_seconds:.0f} s left" if p.remaining_seconds is not None else ""
        self._show(f"{p.stage} {p.done}/{p.total}{percent}{left}")

    def slab(self, event):
        self.slabs += 1
        self._show(f"stream heatmap {event.heatmap}: {event.slices_complete} slices")

    def _show(self, text):
        line = f"[{time.monotonic() - self.start:6.1f} s] {text}"
        sys.stderr.write(f"\r{line:<70}" if self.tty else line + "\n")
        sys.stderr.flush()

    def end(self):
        if self.tty:
            sys.stderr.write("\n")


def output_names(heatmaps):
    methods = [h.method for h in heatmaps]
    return [h.method if methods.count(h.method) == 1 else f"{h.method}-{h.index}" for h in heatmaps]


def run(args) -> int:
    import nibabel

    image, geometry, nifti = load_nifti(args.image, "image")
    labels = None
    if args.labels:
        labels, label_geometry, _ = load_nifti(args.labels, "label map", integer=True)
        problem = geometry.mismatch(label_geometry)
        if problem:
            raise SystemExit(f"compute_heatmap: --labels is not on the image grid ({problem}); resample it first")
    settings = resolve_settings(args.server, args.ca_file)
    token = settings.token
    if args.token_file:
        token = read_token_file(args.token_file)
    os.makedirs(args.out, exist_ok=True)
    line = ProgressLine()
    with SegCamClient(settings.endpoint.target if settings.endpoint.scheme is None
                      else f"{settings.endpoint.scheme}://{settings.endpoint.target}",
                      token=token, ca_file=settings.ca_file,
                      allow_insecure_remote=args.allow_insecure_remote) as client:
        for note in client.endpoint.notes:
            print(f"compute_heatmap: {note}", file=sys.stderr)
        info = client.server_info()
        print(f"server {client.endpoint.target}: SegCam {info.version} on {info.execution_provider}",
              file=sys.stderr)
        volume = client.upload_volume(image, geometry, chunk_bytes=1 << 20).volume_id
        labels_id = client.upload_volume(labels, geometry).volume_id if labels is not None else None
        if args.label is not None:
            pixel_set = PixelSet.label(labels_id, args.label)
        elif args.bbox is not None:
            pixel_set = PixelSet.box(*args.box)
        else:
            pixel_set = PixelSet.predicted() if args.pixel_set == "predicted" else PixelSet.all()
        ground_truth = PixelSet.label(labels_id, args.ground_truth_label) \
            if args.ground_truth_label is not None else None
        job = client.start_cam(volume, args.model, args.target_class, pixel_set, methods=args.methods,
                               layers=args.layers, options=CamOptions(normalization=args.normalization),
                               ground_truth=ground_truth, timeout=args.timeout)
        try:
            result = job.wait(on_progress=line.progress, on_slab=line.slab)
        finally:
            line.end()
    for heatmap, name in zip(result.heatmaps, output_names(result.heatmaps)):
        path = os.path.join(args.out, f"{name}.nii.gz")
        out = nibabel.Nifti1Image(np.ascontiguousarray(heatmap.array.transpose(2, 1, 0)), nifti.affine)
        out.header.set_xyzt_units(*nifti.header.get_xyzt_units())
        nibabel.save(out, path)
        sidecar = {"method": heatmap.method, "layer": heatmap.layer, "model": args.model,
                   "class": args.target_class, "valueRange": [heatmap.min, heatmap.max],
                   "complete": heatmap.complete, "requestId": result.request_id, "serverVersion": info.version,
                   "metrics": result.metrics.get(heatmap.index)}
        with open(os.path.join(args.out, f"{name}.segcam.json"), "w", encoding="utf-8") as handle:
            json.dump(sidecar, handle, indent=2)
        print(f"wrote {path} (layer {heatmap.layer}, range {heatmap.min:.4g}..{heatmap.max:.4g})")
    if ground_truth is not None:
        print(f"{'method':<24} {'energy inside':>13} {'mean Dice':>10} {'AUPRC':>8}")
        for heatmap in result.heatmaps:
            m = result.metrics.get(heatmap.index)
            if m is None:
                print(f"{heatmap.method:<24} (no metrics returned)")
            else:
                print(f"{heatmap.method:<24} {m['energy_inside']:>13.4f} {m['mean_dice']:>10.4f} {m['auprc']:>8.4f}")
    if result.summary is not None:
        s = result.summary
        print(f"{s.units_computed} units explained, {s.units_skipped} skipped, {s.timings.total_seconds:.1f} s on "
              f"{s.execution_provider}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except SegCamError as err:
        if err.is_cancelled:
            print("compute_heatmap: cancelled", file=sys.stderr)
            return 130
        print(f"compute_heatmap: {err.user_message or err.message}", file=sys.stderr)
        print(err.detailed_text, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("compute_heatmap: interrupted; the server call was cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
