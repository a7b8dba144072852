#!/usr/bin/env bash
# The test command: every suite, in release, warnings as errors. Release because the integration tests start the
# real swiftps binary and train a model. Extra arguments go to `swift test`, e.g. `Scripts/test.sh --filter Placement`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec swift test -c release -Xswiftc -warnings-as-errors "$@"
