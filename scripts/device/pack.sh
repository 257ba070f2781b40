#!/usr/bin/env bash
# Packs the self-contained GPU CLI for scripts/device/run.sh into .gpu/a and .gpu/b (ignored; carried).
# The CUDA provider library is 271 MiB; its fat binary keeps only the sm_90 (Hopper) cubins here —
# the other architectures' payloads are zeroed, headers kept — so that it compresses to ~50 MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
pub=/tmp/segcam-gpu-publish
rm -rf "$pub" .gpu && mkdir -p .gpu/a .gpu/b
grep -qx '/.gpu/' .git/info/exclude || echo '/.gpu/' >> .git/info/exclude
dotnet publish src/SegCam.Cli -c Release -r linux-x64 --self-contained -p:SegCamGpu=true -o "$pub" > /dev/null
python3 scripts/device/keep_cubins.py "$pub/libonnxruntime_providers_cuda.so" .gpu/cuda.so 90
xz -T0 -6 -c .gpu/cuda.so > .gpu/a/libonnxruntime_providers_cuda.so.xz && rm .gpu/cuda.so
xz -T0 -6 -c "$pub/libonnxruntime.so" > .gpu/b/libonnxruntime.so.xz
tar -C "$pub" -cf - --exclude=libonnxruntime_providers_cuda.so --exclude=libonnxruntime.so --exclude=libSkiaSharp.so \
    --exclude=libonnxruntime_providers_tensorrt.so --exclude='*.pdb' . | xz -T0 -6 > .gpu/b/publish.tar.xz
tar -C ../shared/reference -cf - models cases | xz -T0 -6 > .gpu/b/reference.tar.xz
du -sh .gpu/a .gpu/b
