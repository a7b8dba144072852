"""The generated protobuf module of the swiftps.v1 wire protocol (``swiftps_pb2``, made by
``Scripts/generate-python-protos.sh`` from ``Protos/swiftps/v1/swiftps.proto``; do not edit it by hand)."""
