"""Generated protobuf and gRPC stubs of proto/segcam/v1/segcam.proto.

Do not edit segcam_pb2.py or segcam_pb2_grpc.py by hand: run scripts/gen_python_stubs.sh (CI runs it with --check).
"""
