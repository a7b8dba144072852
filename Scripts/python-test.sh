#!/usr/bin/env bash
# Tests the Python client (clients/python) against the real binary: makes a venv (.venv-python-tests), installs the
# client with its test extras into it (pip as this machine configures it), and runs pytest on clients/python/tests.
#   SWIFTPS_BIN        the swiftps binary (default .build/release/swiftps); the integration tests start it
#   PYTHON             the interpreter that makes the venv (default python3)
#   PYTHON_TESTS_UNIT_ONLY=1   run only the tests that need no binary
# Extra arguments go to pytest, e.g. `Scripts/python-test.sh -k digest`. Exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv=${PYTHON_TEST_VENV:-$root/.venv-python-tests}
export SWIFTPS_BIN=${SWIFTPS_BIN:-$root/.build/release/swiftps}
case "$SWIFTPS_BIN" in /*) ;; *) SWIFTPS_BIN=$root/$SWIFTPS_BIN ;; esac

select=()
if [ "${PYTHON_TESTS_UNIT_ONLY:-0}" = 1 ]; then
  select=(-m "not integration")
elif [ ! -x "$SWIFTPS_BIN" ]; then
  echo "error: $SWIFTPS_BIN is not an executable: build it (swift build -c release) or set SWIFTPS_BIN;" \
       "PYTHON_TESTS_UNIT_ONLY=1 runs the tests that need no binary" >&2
  exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet "$root/clients/python[test]"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
(cd "$root/clients/python" && "$venv/bin/pytest" -ra "${select[@]}" "$@" tests) 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
summary=$(grep -E '(passed|failed|errors?|skipped|deselected|no tests ran).* in [0-9.]+s' "$log" | tail -1 | sed -E 's/^=+ //; s/ =+$//' || true)
echo "python client tests: ${summary:-no pytest summary}"
exit "$status"
