#!/usr/bin/python3
"""Trains the demo 2-D U-Net on synthetic abdominal CT phantoms and exports it as ONNX with its model card.

The phantoms come from `segcam phantom` (the same generator `segcam demo` uses), so training and demo data agree.
Run with Debian's interpreter (python3-torch, python3-onnx, python3-numpy), after `dotnet build src/SegCam.Cli -c Release`:

    /usr/bin/python3 scripts/train_demo_models.py --segcam src/SegCam.Cli/bin/Release/net10.0/segcam --out models

Writes OUT/demo-unet2d.onnx and OUT/demo-unet2d.segcam.json (with Dice on held-out phantoms).
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


class UNet2d(nn.Module):
    """3 encoder levels, a bottleneck, 3 decoder levels with skip concatenations (input sizes: multiples of 8)."""

    def __init__(self, widths=(8, 16, 32, 64), classes=3):
        super().__init__()
        self.enc = nn.ModuleList([block(1, widths[0]), block(widths[0], widths[1]), block(widths[1], widths[2])])
        self.bottleneck = block(widths[2], widths[3])
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in (2, 1, 0)])
        self.dec = nn.ModuleList([block(2 * widths[i], widths[i]) for i in (2, 1, 0)])
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x):
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([up(x), skip], 1))
        return self.head(x)


def dice_loss(logits, target):
    p = torch.softmax(logits, 1)
    onehot = F.one_hot(target, len(CLASSES)).permute(0, 3, 1, 2).float()
    inter = (p * onehot).sum((0, 2, 3))
    denom = p.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
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
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()
