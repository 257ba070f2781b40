#!/usr/bin/env bash
# Generates the Python gRPC stubs of segcam_client from proto/segcam/v1/segcam.proto.
#
#   scripts/gen_python_stubs.sh          write src/SlicerSegCam/SegCam/segcam_client/_gen/segcam_pb2{,_grpc}.py
#   scripts/gen_python_stubs.sh --check  regenerate into a temporary folder and diff; exit 1 on drift
#
# The generated files are committed because Slicer's build machines have no protoc. They are made with the oldest
# supported generator, Debian 12's protoc 3.21.12 and grpc_python_plugin 1.51.1 (docs/VIEWER.md §1): that gencode
# runs on newer protobuf runtimes, and plugin 1.51 adds no import-time grpcio version guard.
#
# The .proto is staged as segcam_client/_gen/segcam.proto so that the grpc stub imports
# "from segcam_client._gen import segcam_pb2" (a package-qualified import that works inside Slicer and in scripts).
# Override the tools with PROTOC=... and GRPC_PYTHON_PLUGIN=... if they live elsewhere.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
proto="$root/proto/segcam/v1/segcam.proto"
dest="$root/src/SlicerSegCam/SegCam/segcam_client/_gen"
protoc="${PROTOC:-/usr/bin/protoc}"
plugin="${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}"
files=(segcam_pb2.py segcam_pb2_grpc.py)

mode=write
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "gen_python_stubs.sh: unknown argument '$1' (allowed: --check, --help)" >&2; exit 2 ;;
esac

for tool in "$protoc" "$plugin"; do
  if [[ ! -x "$tool" ]]; then
    echo "gen_python_stubs.sh: '$tool' not found; on Debian 12 install protobuf-compiler and protobuf-compiler-grpc" >&2
    exit 2
  fi
done
[[ -f "$proto" ]] || { echo "gen_python_stubs.sh: '$proto' not found" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/staging/segcam_client/_gen" "$work/out"
cp "$proto" "$work/staging/segcam_client/_gen/segcam.proto"
"$protoc" -I "$work/staging" \
  --plugin=protoc-gen-grpc_python="$plugin" \
  --python_out="$work/out" --grpc_python_out="$work/out" \
  segcam_client/_gen/segcam.proto
generated="$work/out/segcam_client/_gen"

if [[ "$mode" == check ]]; then
  drift=0
  for f in "${files[@]}"; do
    if [[ ! -f "$dest/$f" ]]; then
      echo "gen_python_stubs.sh: $dest/$f is missing; run scripts/gen_python_stubs.sh" >&2
      drift=1
    elif ! diff -u "$dest/$f" "$generated/$f"; then
      echo "gen_python_stubs.sh: $f differs from what $proto generates; run scripts/gen_python_stubs.sh and commit" >&2
      drift=1
    fi
  done
  [[ $drift -eq 0 ]] && echo "gen_python_stubs.sh: stubs are up to date"
  exit $drift
fi

mkdir -p "$dest"
for f in "${files[@]}"; do
  cp "$generated/$f" "$dest/$f"
done
echo "gen_python_stubs.sh: wrote ${files[*]} to $dest"
