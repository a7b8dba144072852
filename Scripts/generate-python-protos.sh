#!/usr/bin/env bash
# Regenerates the Python protobuf module committed under clients/python/swiftps/v1 from Protos/.
# Uses Debian's protoc (package protobuf-compiler); the files are its output byte for byte, at the proto's path
# (swiftps/v1/swiftps.proto -> swiftps/v1/swiftps_pb2.py and its type stub swiftps_pb2.pyi).
set -euo pipefail
cd "$(dirname "$0")/.."
out=clients/python
if ! command -v protoc >/dev/null; then
  echo "error: protoc not found: install Debian's protobuf-compiler" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc --python_out="$tmp" --pyi_out="$tmp" -IProtos Protos/swiftps/v1/swiftps.proto
mkdir -p "$out/swiftps/v1"
cp "$tmp/swiftps/v1/swiftps_pb2.py" "$out/swiftps/v1/swiftps_pb2.py"
cp "$tmp/swiftps/v1/swiftps_pb2.pyi" "$out/swiftps/v1/swiftps_pb2.pyi"
echo "generated $out/swiftps/v1 from Protos/ ($(protoc --version))"
