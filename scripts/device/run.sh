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
want reference-cuda && run reference-cuda 150 python3 scripts/device/check_reference.py "$segcam" "$work/ref" "$work/refwork" --device cuda
want bench-cpu-f32 && run bench-cpu-f32 150 "$segcam" bench --model "$model" --input-shape 8,1,256,256 --runs 5
want bench-cuda-f64 && run bench-cuda-f64 90 "$segcam" bench --model "$model" --input-shape 8,1,256,256 --runs 5 --device cuda --precision float64
want volume-cuda-off && run volume-cuda-off 90 "$segcam" bench-volume --device cuda --skip-empty false --runs 3
want volume-cuda-on && run volume-cuda-on 60 "$segcam" bench-volume --device cuda --skip-empty true --runs 3
want server-cuda && run server-cuda 120 "$segcam" bench-server --device cuda --runs 5
if want profile-cuda; then
    rm -rf "$work/profile" && mkdir -p "$work/profile"
    SEGCAM_ORT_PROFILE="$work/profile/p" run profile-cuda 120 "$segcam" bench --model "$model" --input-shape 8,1,256,256 --runs 3 --device cuda
    python3 scripts/device/profile_summary.py "$work"/profile/p_*.json > "$out/profile-summary.txt" 2>&1
    cat "$out/profile-summary.txt"
fi
