#!/usr/bin/env bash
# Fails when the committed protoc-c output no longer matches what Protos/ generates.
set -euo pipefail
cd "$(dirname "$0")/.."
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
cp -r Sources/SwiftPSProto "$before/"
Scripts/generate-protos.sh >/dev/null
if ! diff -r "$before/SwiftPSProto" Sources/SwiftPSProto; then
  rm -rf Sources/SwiftPSProto && cp -r "$before/SwiftPSProto" Sources/SwiftPSProto
  echo "error: Sources/SwiftPSProto is stale: run Scripts/generate-protos.sh and commit the result" >&2
  exit 1
fi
echo "generated code is up to date"
