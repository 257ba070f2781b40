#!/usr/bin/env bash
# The test command (README, .ci/run): every .NET test project, then the Python client and Slicer-extension tests
# (pytest, Debian's interpreter) against the server the .NET build just produced.
set -uo pipefail
cd "$(dirname "$0")/.."

dotnet test SegCamPlugin.sln -c Release
dotnet_status=$?

# Debian's python3 (python3-grpcio, -protobuf, -numpy, -pytest, -jsonschema, -nibabel); another python3 may come first on PATH.
python=/usr/bin/python3
SEGCAM_CLI_DIR="$PWD/src/SegCam.Cli/bin/Release/net10.0" "$python" -m pytest tests/viewer -q -p no:cacheprovider
pytest_status=$?

[ "$dotnet_status" -eq 0 ] && [ "$pytest_status" -eq 0 ]
