#!/usr/bin/env bash
# Regenerates the protoc-c output committed under Sources/SwiftPSProto from Protos/.
# The files are protoc-c's output byte for byte; the header sits at the proto's path under include/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=Sources/SwiftPSProto
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc-c --c_out="$tmp" -IProtos Protos/swiftps/v1/swiftps.proto
mkdir -p "$out/include/swiftps/v1"
cp "$tmp/swiftps/v1/swiftps.pb-c.c" "$out/swiftps.pb-c.c"
cp "$tmp/swiftps/v1/swiftps.pb-c.h" "$out/include/swiftps/v1/swiftps.pb-c.h"
echo "generated $out from Protos/"
