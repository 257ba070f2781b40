"""The committed stubs match the .proto (regenerated with Debian's protoc + grpc_python_plugin) and import."""

import os
import shutil
import subprocess

import pytest
from conftest import REPO

SCRIPT = os.path.join(REPO, "scripts", "gen_python_stubs.sh")
TOOLS = ("/usr/bin/protoc", "/usr/bin/grpc_python_plugin")
needs_tools = pytest.mark.skipif(not all(os.access(t, os.X_OK) for t in TOOLS),
                                 reason="protoc / grpc_python_plugin missing: apt-get install protobuf-compiler "
                                        "protobuf-compiler-grpc (Debian 12) to check stub drift")


@needs_tools
def test_committed_stubs_match_the_proto():
    run = subprocess.run(["bash", SCRIPT, "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@needs_tools
def test_check_mode_reports_drift(tmp_path):
    # A copy of the layout with one extra field in the proto must fail the check with exit code 1.
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, root / "scripts")
    (root / "proto" / "segcam" / "v1").mkdir(parents=True)
    proto = open(os.path.join(REPO, "proto", "segcam", "v1", "segcam.proto")).read()
    marker = "message DeleteVolumeRequest {\n  string volume_id = 1;\n"
    assert marker in proto
    proto = proto.replace(marker, marker + "  bool drift_probe = 2;\n")
    (root / "proto" / "segcam" / "v1" / "segcam.proto").write_text(proto)
    shutil.copytree(os.path.join(REPO, "src", "SlicerSegCam", "SegCam", "segcam_client", "_gen"),
                    root / "src" / "SlicerSegCam" / "SegCam" / "segcam_client" / "_gen")
    run = subprocess.run(["bash", str(root / "scripts" / "gen_python_stubs.sh"), "--check"], capture_output=True,
                         text=True)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "segcam_pb2.py differs" in run.stderr
    # Regenerating fixes it.
    assert subprocess.run(["bash", str(root / "scripts" / "gen_python_stubs.sh")], capture_output=True).returncode == 0
    assert subprocess.run(["bash", str(root / "scripts" / "gen_python_stubs.sh"), "--check"],
                          capture_output=True).returncode == 0


def test_script_rejects_unknown_arguments():
    run = subprocess.run(["bash", SCRIPT, "--bogus"], capture_output=True, text=True)
    assert run.returncode == 2
    assert "allowed: --check" in run.stderr


def test_stubs_import_with_package_qualified_names():
    from segcam_client._gen import segcam_pb2, segcam_pb2_grpc

    source = open(segcam_pb2_grpc.__file__).read()
    assert "from segcam_client._gen import segcam_pb2" in source
    service = segcam_pb2.DESCRIPTOR.services_by_name["SegCamService"]
    assert [m.name for m in service.methods] == [
        "GetServerInfo", "ListModels", "UploadVolume", "DeleteVolume", "Segment", "ComputeCam"]
    assert segcam_pb2.DESCRIPTOR.package == "segcam.v1"
    assert hasattr(segcam_pb2_grpc, "SegCamServiceStub") and hasattr(segcam_pb2_grpc, "SegCamServiceServicer")
    # Field numbers the client relies on.
    slab = segcam_pb2.VoxelSlab.DESCRIPTOR.fields_by_name
    assert (slab["heatmap"].number, slab["voxel_offset"].number, slab["data"].number) == (1, 2, 4)
