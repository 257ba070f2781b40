#!/usr/bin/env bash
# The main job on built-in data: a synthetic abdominal CT is segmented by the demo 2-D U-Net, the tumour is explained
# with Seg-HiRes-Grad CAM and Seg-Grad CAM, and heatmaps (NIfTI, NRRD), a PNG montage and quality metrics land in
# ./out/demo. Then the engine alone on the committed U-Net fixture: every CAM method for its blob mask → ./out/demo/engine.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/SegCam.Cli -c Release -v quiet -nologo >/dev/null
segcam=src/SegCam.Cli/bin/Release/net10.0/segcam
"$segcam" demo --out out/demo

out=out/demo/engine
mkdir -p "$out"
case=tests/fixtures/cases/unet2d_bn-bottleneck-mask
"$segcam" layers --model tests/fixtures/models/unet2d_bn.onnx --input-shape 1,1,48,40
"$segcam" cam --model tests/fixtures/models/unet2d_bn.onnx --input "$case/input.npy" --class 1 \
  --layer bottleneck --mask "$case/mask.npy" --resolution input --normalize minmax \
  --method seg-hires-grad-cam,seg-grad-cam,seg-xres-cam,seg-grad-cam-pp,seg-xgrad-cam,seg-layer-cam,seg-eigen-cam \
  --out "$out/cam.npy" --export-gradient "$out/gradient.npy" --export-activation "$out/activation.npy"
echo "outputs in out/demo (volumes, montage.png, metrics.json) and out/demo/engine (.npy)"
