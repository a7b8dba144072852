#!/usr/bin/env bash
# Builds the runtime image from a binary built on this host and runs docker/compose.yaml to completion:
# 1 coordinator, 2 servers, 2 workers. Needs root and Debian's docker.io, docker-compose and debootstrap.
# It starts its own dockerd (data, exec root, pidfile and socket in a temporary directory), makes a
# debian:bookworm-slim base with debootstrap when the daemon has none, and removes everything it created,
# also when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/swiftps-container.XXXXXX)
export DOCKER_HOST="unix://$work/docker.sock"
project=swiftpsci$$

cleanup() {
  status=$?
  docker-compose -p "$project" -f docker/compose.yaml down --remove-orphans >/dev/null 2>&1 || true
  if [ -f "$work/docker.pid" ]; then
    pid=$(cat "$work/docker.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  grep " $work/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf "$work" docker/swiftps
  exit "$status"
}
trap cleanup EXIT

echo "==> dockerd in $work"
dockerd --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/docker.pid" -H "$DOCKER_HOST" \
  --default-ulimit nofile=20000:20000 --default-ulimit nproc=32768:32768 >"$work/dockerd.log" 2>&1 &
for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.3; done
docker info >/dev/null || { tail -20 "$work/dockerd.log"; exit 1; }

if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  # The Debian mirror this machine's apt already uses; there is no other to fall back on.
  mirror=$( (grep -rhE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true) \
           | grep -oE 'https?://[^ ]+/debian/?$' | head -n 1 || true)
  [ -n "$mirror" ] || { echo "error: no Debian mirror in this machine's apt sources to debootstrap from" >&2; exit 1; }
  echo "==> debian:bookworm-slim from the apt mirror"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log"
  tar -C "$work/rootfs" -c . | docker import - debian:bookworm-slim >/dev/null
fi

echo "==> image from the host binary"
swift build -c release --static-swift-stdlib --scratch-path .build-static 2>&1 | tail -n 1
cp .build-static/release/swiftps docker/swiftps
docker build -q -f docker/Dockerfile --target runtime-host -t swiftps:ci . >/dev/null

echo "==> compose: keys, 1 coordinator, 2 servers, 2 workers"
start=$SECONDS
IMAGE=swiftps:ci SERVERS=2 WORKERS=2 timeout 600 docker-compose -p "$project" -f docker/compose.yaml up --no-color \
  >"$work/compose.log" 2>&1 || { tail -40 "$work/compose.log"; exit 1; }
failed=0
for id in $(docker-compose -p "$project" -f docker/compose.yaml ps -q); do  # keygen included: it must exit 0 too
  read -r name code < <(docker inspect -f '{{.Name}} {{.State.ExitCode}}' "$id")
  echo "  $name exited $code"
  [ "$code" = 0 ] || failed=1
done
results=$(grep -c 'result {' "$work/compose.log" || true)
grep 'result {' "$work/compose.log" | head -n 2
echo "compose run took $((SECONDS - start)) s; $results worker results"
[ "$failed" = 0 ] && [ "$results" = 2 ] || { tail -40 "$work/compose.log"; exit 1; }
grep -q "the cluster is open" "$work/compose.log" && { echo "error: a service ran without keys" >&2; exit 1; }
echo "container test passed"
