#!/usr/bin/env bash
# The main job on built-in data: list the layers of the committed 2-D U-Net fixture and compute every CAM method
# for its tumour-like blob mask. Outputs land in ./out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/demo
mkdir -p "$out"
dotnet build src/SegCam.Cli -c Release -v quiet -nologo >/dev/null
segcam=src/SegCam.Cli/bin/Release/net10.0/segcam
case=tests/fixtures/cases/unet2d_bn-bottleneck-mask
"$segcam" layers --model tests/fixtures/models/unet2d_bn.onnx --input-shape 1,1,48,40
"$segcam" cam --model tests/fixtures/models/unet2d_bn.onnx --input "$case/input.npy" --class 1 \
  --layer bottleneck --mask "$case/mask.npy" --resolution input --normalize minmax \
  --method seg-hires-grad-cam,seg-grad-cam,seg-xres-cam,seg-grad-cam-pp,seg-xgrad-cam,seg-layer-cam,seg-eigen-cam \
  --out "$out/cam.npy" --export-gradient "$out/gradient.npy" --export-activation "$out/activation.npy"
