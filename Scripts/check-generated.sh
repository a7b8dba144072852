#!/usr/bin/env bash
# Fails when the committed generated code no longer matches what Protos/ generates: the protoc-c output under
# Sources/SwiftPSProto (Scripts/generate-protos.sh) and the Python module under clients/python/swiftps/v1
# (Scripts/generate-python-protos.sh, Debian's protoc from protobuf-compiler).
set -euo pipefail
cd "$(dirname "$0")/.."
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
status=0

cp -r Sources/SwiftPSProto "$before/"
Scripts/generate-protos.sh >/dev/null
if ! diff -r "$before/SwiftPSProto" Sources/SwiftPSProto; then
  rm -rf Sources/SwiftPSProto && cp -r "$before/SwiftPSProto" Sources/SwiftPSProto
  echo "error: Sources/SwiftPSProto is stale: run Scripts/generate-protos.sh and commit the result" >&2
  status=1
fi

python_out=clients/python/swiftps/v1
mkdir -p "$before/python"
cp "$python_out"/swiftps_pb2.py "$python_out"/swiftps_pb2.pyi "$before/python/"
Scripts/generate-python-protos.sh >/dev/null
for file in swiftps_pb2.py swiftps_pb2.pyi; do
  if ! diff "$before/python/$file" "$python_out/$file"; then
    cp "$before/python/$file" "$python_out/$file"
    echo "error: $python_out/$file is stale: run Scripts/generate-python-protos.sh and commit the result" >&2
    status=1
  fi
done

[ "$status" -eq 0 ] && echo "generated code is up to date"
exit "$status"
