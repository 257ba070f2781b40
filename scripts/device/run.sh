#!/usr/bin/env bash
# GPU checks on a lent device machine, which has CUDA 13 + cuDNN 9 (in PyTorch's wheels) but no .NET SDK.
# The CLI travels published self-contained (scripts/device/pack.sh), in two parts because one call carries
# at most 64 MiB:
#   scripts/device/run.sh unpack .gpu/a          # first call: the CUDA provider library
#   scripts/device/run.sh checks .gpu/b OUTDIR   # second call, same warm machine: the CLI, then the checks
set -u
step=$1 pack=$2 out=${3:-/tmp}
work=/tmp/segcam-device
mkdir -p "$work/pub" "$work/ref"
python3 - "$pack" "$work" <<'PY'
import lzma, os, sys, tarfile
pack, work = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(pack)):
    path = os.path.join(pack, name)
    if name.endswith(".tar.xz"):
        with tarfile.open(path, "r:xz") as tar:
            tar.extractall(os.path.join(work, "ref" if name.startswith("reference") else "pub"), filter="tar")
    elif name.endswith(".so.xz"):
        with lzma.open(path) as source, open(os.path.join(work, "pub", name[:-3]), "wb") as target:
            target.write(source.read())
    print("unpacked", name)
PY
nvidia-smi -L
[ "$step" = unpack ] && exit 0

libs=$(find /usr /opt -xdev \( -name 'libcublasLt.so.13' -o -name 'libcudnn.so.9' -o -name 'libcurand.so.10' \
        -o -name 'libcudart.so.13' -o -name 'libcufft.so.12' \) 2>/dev/null | xargs -r -n1 dirname | sort -u | tr '\n' ':')
echo "CUDA libraries: $libs"
export LD_LIBRARY_PATH="$work/pub:$libs${LD_LIBRARY_PATH:-}" DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
segcam=$work/pub/segcam
model=$work/ref/models/unet2d.onnx
nproc > "$out/machine.txt"; nvidia-smi >> "$out/machine.txt"
run() { # name timeout command... — every step's output goes to $out/checks.txt (few files come back)
    local name=$1 limit=$2; shift 2
    { echo "== $name: $*"; timeout "$limit" "$@" 2>&1; echo "exit $?"; } > "$work/step.txt"
    cat "$work/step.txt" >> "$out/checks.txt"
    grep -v '^  ok ' "$work/step.txt" | tail -n 6
}
want() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }
only=${4:-}   # optional: a space-separated list of the steps below to run
want bench-cuda-f32 && run bench-cuda-f32 120 "$segcam" bench --model "$model" --input-shape 8,1,256,256 --runs 7 --device cuda
want bench-cuda-tf32 && SEGCAM_CUDA_TF32=1 run bench-cuda-tf32 120 "$segcam" bench --model "$model" --input-shape 8,1,256,256 --runs 7 --device cuda
want reference-cuda && run reference-cuda 150 python3 scripts/device/check_reference.py "$segcam" "$work/ref" "$work/refwork" --device cuda
want reference-cuda-f32 && run reference-cuda-f32 150 python3 scripts/device/check_reference.py "$segcam" "$work/ref" "$work/refwork32" --device cuda --precision float32
want bench-cpu-f32 && run bench-cpu-f32 150 "$segcam" bench --model "$model" --input-shape 8,1,256,256 --runs 5
want bench-cuda-f64 && run bench-cuda-f64 90 "$segcam" bench --model "$model" --input-shape 8,1,256,256 --runs 5 --device cuda --precision float64
want volume-cuda-off && run volume-cuda-off 90 "$segcam" bench-volume --device cuda --skip-empty false --runs 3
want volume-cuda-on && run volume-cuda-on 60 "$segcam" bench-volume --device cuda --skip-empty true --runs 3
want server-cuda && run server-cuda 120 "$segcam" bench-server --device cuda --runs 5
if want volume-cuda-vs-cpu; then
    # The slice-wise pipeline on CUDA against CPU: every slice explained, 6 batches of 8, so later batches land in
    # recycled output arrays.
    v=$work/volume && rm -rf "$v" && mkdir -p "$v"
    "$segcam" phantom --out-ct "$v/ct.nii.gz" --out-labels "$v/labels.nii.gz" --size 128,128,48 > /dev/null
    for device in cuda cpu; do
        for precision in float64 float32; do
            run "volume-$device-$precision" 300 "$segcam" cam --model demo-unet2d --input "$v/ct.nii.gz" --class tumour --pixel-set all \
                --method seg-hires-grad-cam,seg-grad-cam --precision $precision --device $device --out "$v/$device-$precision.npy"
        done
    done
    run volume-compare 60 python3 - "$v" <<'PY'
import glob, os, sys
import numpy as np
v = sys.argv[1]
for precision, tolerance in (("float64", 1e-9), ("float32", 1e-3)):  # TF32 off (the default)
    for cpu in sorted(glob.glob(f"{v}/cpu-{precision}*.npy")):
        gpu = cpu.replace("/cpu-", "/cuda-")
        a, b = np.load(cpu).astype(np.float64), np.load(gpu).astype(np.float64)
        error = np.abs(a - b).max() / max(np.abs(a).max(), 1e-30)
        print(os.path.basename(cpu), a.shape, f"max|cuda-cpu|/max|cpu| = {error:.2e}", "ok" if error <= tolerance else "FAIL")
PY
fi
if want profile-cuda; then
    rm -rf "$work/profile" && mkdir -p "$work/profile"
    SEGCAM_ORT_PROFILE="$work/profile/p" run profile-cuda 120 "$segcam" bench --model "$model" --input-shape 8,1,256,256 --runs 3 --device cuda
    python3 scripts/device/profile_summary.py "$work"/profile/p_*.json > "$out/profile-summary.txt" 2>&1
    cat "$out/profile-summary.txt"
fi
