#!/usr/bin/python3
"""Trains the demo 2-D U-Net on synthetic abdominal CT phantoms and exports it as ONNX with its model card.

The phantoms come from `segcam phantom` (the same generator `segcam demo` uses), so training and demo data agree.
Run with Debian's interpreter (python3-torch, python3-onnx, python3-numpy), after `dotnet build src/SegCam.Cli -c Release`:

    /usr/bin/python3 scripts/train_demo_models.py --segcam src/SegCam.Cli/bin/Release/net10.0/segcam --out models

Writes OUT/demo-unet2d.onnx and OUT/demo-unet2d.segcam.json (with Dice on held-out phantoms); with --only 3d (or
both) also OUT/demo-unet3d.onnx + card: a small 3-D U-Net trained on 32×64×64 crops, run by sliding windows.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = ["background", "kidney", "tumour"]
WINDOW = (40.0, 400.0)            # centre, width (HU) -> [0, 1]
SIZE, SPACING = "128,128,48", "2.5,2.5,3"


def window(hu):
    low = WINDOW[0] - WINDOW[1] / 2
    return np.clip((hu.astype(np.float32) - low) / WINDOW[1], 0.0, 1.0)


def phantoms(segcam, seeds, workdir):
    for s in seeds:
        ct, lab = os.path.join(workdir, f"ct{s}.npy"), os.path.join(workdir, f"lab{s}.npy")
        subprocess.run([segcam, "phantom", "--out-ct", ct, "--out-labels", lab, "--seed", str(s),
                        "--size", SIZE, "--spacing", SPACING], check=True, stdout=subprocess.DEVNULL)
        yield np.load(ct), np.load(lab)          # (K, J, I): axial slices, rows j, columns i


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def block3d(cin, cout):
    return nn.Sequential(nn.Conv3d(cin, cout, 3, padding=1), nn.InstanceNorm3d(cout, affine=True), nn.LeakyReLU(0.01, inplace=True),
                         nn.Conv3d(cout, cout, 3, padding=1), nn.InstanceNorm3d(cout, affine=True), nn.LeakyReLU(0.01, inplace=True))


class UNet(nn.Module):
    """The U-Net forward pass shared by both demo models: encoder levels (max-pooled by 2), a bottleneck, decoder
    levels on up-convolution + skip concatenation, a 1x1 head. Subclasses build enc, bottleneck, up, dec, head."""

    def forward(self, x):
        pool = F.max_pool3d if x.dim() == 5 else F.max_pool2d
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
            x = pool(x, 2)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([up(x), skip], 1))
        return self.head(x)


class UNet3d(UNet):
    """nnU-Net style: 2 encoder levels, a bottleneck, 2 decoder levels; InstanceNorm + LeakyReLU; input multiples of 4."""

    def __init__(self, widths=(6, 12, 24), classes=3):
        super().__init__()
        self.enc = nn.ModuleList([block3d(1, widths[0]), block3d(widths[0], widths[1])])
        self.bottleneck = block3d(widths[1], widths[2])
        self.up = nn.ModuleList([nn.ConvTranspose3d(widths[2], widths[1], 2, stride=2), nn.ConvTranspose3d(widths[1], widths[0], 2, stride=2)])
        self.dec = nn.ModuleList([block3d(2 * widths[1], widths[1]), block3d(2 * widths[0], widths[0])])
        self.head = nn.Conv3d(widths[0], classes, 1)



class UNet2d(UNet):
    """3 encoder levels, a bottleneck, 3 decoder levels with skip concatenations (input sizes: multiples of 8)."""

    def __init__(self, widths=(8, 16, 32, 64), classes=3):
        super().__init__()
        self.enc = nn.ModuleList([block(1, widths[0]), block(widths[0], widths[1]), block(widths[1], widths[2])])
        self.bottleneck = block(widths[2], widths[3])
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in (2, 1, 0)])
        self.dec = nn.ModuleList([block(2 * widths[i], widths[i]) for i in (2, 1, 0)])
        self.head = nn.Conv2d(widths[0], classes, 1)



def dice_loss(logits, target):
    p = torch.softmax(logits, 1)
    dims = tuple(range(2, logits.dim()))
    onehot = torch.movedim(F.one_hot(target, len(CLASSES)), -1, 1).float()
    inter = (p * onehot).sum((0,) + dims)
    denom = p.sum((0,) + dims) + onehot.sum((0,) + dims)
    return 1 - ((2 * inter + 1) / (denom + 1))[1:].mean()


def volume_dice(pred, truth, label):
    a, b = pred == label, truth == label
    if a.sum() + b.sum() == 0:
        return None
    return float(2 * (a & b).sum() / (a.sum() + b.sum()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segcam", required=True)
    ap.add_argument("--out", default="models")
    ap.add_argument("--train", type=int, default=24)
    ap.add_argument("--heldout", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=14)
    ap.add_argument("--only", choices=["2d", "3d", "both"], default="both")
    ap.add_argument("--steps3d", type=int, default=1500)
    args = ap.parse_args()
    if args.only in ("3d", "both"):
        train3d(args)
    if args.only == "3d":
        return
    torch.manual_seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    rng = np.random.default_rng(0)
    started = time.time()
    with tempfile.TemporaryDirectory() as work:
        xs, ys = [], []
        for ct, lab in phantoms(args.segcam, range(1, args.train + 1), work):
            for k in range(ct.shape[0]):
                if lab[k].any() or rng.random() < 0.25:       # every slice with kidney, a quarter of the others
                    xs.append(window(ct[k]))
                    ys.append(lab[k].astype(np.int64))
        heldout = list(phantoms(args.segcam, range(1001, 1001 + args.heldout), work))
    x = torch.from_numpy(np.stack(xs)[:, None])
    y = torch.from_numpy(np.stack(ys))
    print(f"{len(x)} training slices from {args.train} phantoms")

    model = UNet2d()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    weights = torch.tensor([0.2, 1.0, 3.0])
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x))
        total = 0.0
        for i in range(0, len(x), 16):
            idx = order[i:i + 16]
            xb, yb = x[idx], y[idx]
            if rng.random() < 0.5:                          # left-right flip
                xb, yb = xb.flip(-1), yb.flip(-1)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, weight=weights) + dice_loss(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        sched.step()
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(x):.4f} ({time.time() - started:.0f} s)")

    model.eval()
    dice = {"kidney": [], "tumour": []}
    with torch.no_grad():
        for ct, lab in heldout:
            pred = model(torch.from_numpy(window(ct)[:, None])).argmax(1).numpy()
            for name, label in (("kidney", 1), ("tumour", 2)):
                d = volume_dice(pred, lab, label)
                if d is not None:
                    dice[name].append(d)
    metrics = {f"heldout_dice_{k}": round(float(np.mean(v)), 4) for k, v in dice.items() if v}
    metrics["heldout_phantoms"] = args.heldout
    print("held-out Dice:", metrics)

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "demo-unet2d.onnx")
    torch.onnx.export(model, torch.zeros(1, 1, 128, 128), onnx_path, opset_version=17, input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"},
                                                             "logits": {0: "batch", 2: "height", 3: "width"}},
                      training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True)
    card = {
        "schema": "segcam.model-card/1",
        "id": "demo-unet2d",
        "name": "Demo 2-D U-Net for kidney and tumour on synthetic abdominal CT phantoms",
        "dimensionality": 2,
        "channels": 1,
        "input_size": None,
        "size_multiple": 8,
        "preprocessing": {"kind": "window", "center": WINDOW[0], "width": WINDOW[1], "output": [0, 1]},
        "classes": CLASSES,
        "training_spacing": [2.5, 2.5, 3.0],
        "default_layer": "bottleneck",
        "slice_axis": "axial",
        "metrics": metrics,
    }
    with open(os.path.join(args.out, "demo-unet2d.segcam.json"), "w") as f:
        json.dump(card, f, indent=2)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes) in {time.time() - started:.0f} s")


def train3d(args):
    """Random 32×64×64 crops (D, H, W) of 128×128×48 phantoms; held-out Dice by sliding windows (50 % overlap,
    uniform blending here; the engine blends with a Gaussian)."""
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    started = time.time()
    with tempfile.TemporaryDirectory() as work:
        train = [(window(ct), lab.astype(np.int64)) for ct, lab in phantoms(args.segcam, range(101, 101 + args.train), work)]
        heldout = list(phantoms(args.segcam, range(2001, 2001 + args.heldout), work))
    model = UNet3d()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps3d)
    weights = torch.tensor([0.2, 1.0, 5.0])
    patch = (32, 64, 64)
    for step in range(args.steps3d):
        xs, ys = [], []
        for _ in range(2):
            ct, lab = train[rng.integers(len(train))]
            # Centre most crops on tumour or kidney voxels so the small tumour class is seen often.
            tumour, kidney = np.argwhere(lab == 2), np.argwhere(lab == 1)
            u = rng.random()
            pool = tumour if len(tumour) and u < 0.5 else kidney if u < 0.85 else None
            centre = pool[rng.integers(len(pool))] if pool is not None and len(pool) else np.array([rng.integers(n) for n in lab.shape])
            start = [int(np.clip(c - p // 2 + rng.integers(-8, 9), 0, n - p)) for c, p, n in zip(centre, patch, lab.shape)]
            sl = tuple(slice(s0, s0 + p) for s0, p in zip(start, patch))
            xs.append(ct[sl])
            ys.append(lab[sl])
        xb = torch.from_numpy(np.stack(xs)[:, None])
        yb = torch.from_numpy(np.stack(ys))
        logits = model(xb)
        loss = F.cross_entropy(logits, yb, weight=weights) + dice_loss(logits, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 50 == 0:
            print(f"3d step {step + 1}/{args.steps3d}: loss {float(loss):.4f} ({time.time() - started:.0f} s)")
    model.eval()
    dice = {"kidney": [], "tumour": []}
    with torch.no_grad():
        for ct, lab in heldout:
            x = torch.from_numpy(window(ct)[None, None])
            total = torch.zeros((1, 3) + lab.shape)
            count = torch.zeros((1, 1) + lab.shape)
            for z in sorted({0, lab.shape[0] - patch[0], (lab.shape[0] - patch[0]) // 2}):
                for y in range(0, lab.shape[1] - patch[1] + 1, patch[1] // 2):
                    for xx in range(0, lab.shape[2] - patch[2] + 1, patch[2] // 2):
                        sl = (slice(None), slice(None), slice(z, z + patch[0]), slice(y, y + patch[1]), slice(xx, xx + patch[2]))
                        total[sl] += model(x[sl])
                        count[sl] += 1
            pred = (total / count).argmax(1)[0].numpy()
            for name, label in (("kidney", 1), ("tumour", 2)):
                d = volume_dice(pred, lab, label)
                if d is not None:
                    dice[name].append(d)
    metrics = {f"heldout_dice_{k}": round(float(np.mean(v)), 4) for k, v in dice.items() if v}
    metrics["heldout_phantoms"] = args.heldout
    print("3d held-out Dice:", metrics)
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "demo-unet3d.onnx")
    torch.onnx.export(model, torch.zeros((1, 1) + patch), onnx_path, opset_version=17, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, training=torch.onnx.TrainingMode.EVAL,
                      do_constant_folding=True)
    card = {
        "schema": "segcam.model-card/1",
        "id": "demo-unet3d",
        "name": "Demo 3-D U-Net (nnU-Net style) for kidney and tumour on synthetic abdominal CT phantoms",
        "dimensionality": 3,
        "channels": 1,
        "input_size": list(patch),
        "size_multiple": 4,
        "preprocessing": {"kind": "window", "center": WINDOW[0], "width": WINDOW[1], "output": [0, 1]},
        "classes": CLASSES,
        "training_spacing": [2.5, 2.5, 3.0],
        "default_layer": "bottleneck",
        "slice_axis": "axial",
        "metrics": metrics,
    }
    with open(os.path.join(args.out, "demo-unet3d.segcam.json"), "w") as f:
        json.dump(card, f, indent=2)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes) in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
