#!/usr/bin/env bash
# Runs a swiftps cluster across real network boundaries: one Linux network namespace per process
# (coordinator, server0, server1, worker0, worker1), each joined by a veth pair to a bridge that lives in
# its own "hub" namespace, all in 10.77.0.0/24. Nothing is created in the host's own namespace: the veth
# pairs are made inside the hub and one end is created directly in the node's namespace.
#
# Every process runs with a fresh key set (CurveZMQ, a key per worker).
#
#   Run A: a small job to the end. Every process exits 0, each worker reaches the accuracy threshold, and
#          the servers registered with their own namespace addresses.
#   Run B: the same topology with a short heartbeat timeout; once worker1 has made progress its cable is
#          pulled (its veth on the bridge goes down). The coordinator must mark it dead, and the job must
#          still finish: worker0, both servers and the coordinator exit 0, worker0 learns the task.
#
# Usage (as root, from anywhere):  Scripts/netns-test.sh [PATH_TO_SWIFTPS_BINARY]
#   default binary: .build/release/swiftps
#   NETNS_CONSISTENCY=bsp|async|ssp:S   also pass --consistency to the coordinator (unset: not passed).
#   NETNS_LOG_DIR=DIR                   copy every process's log there before cleaning up (e.g. CI artifacts).
# Removes every process, namespace, link and file it created on exit, also when it fails.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

BIN=$(realpath -m "${1:-.build/release/swiftps}")
CONSISTENCY=${NETNS_CONSISTENCY:-}

readonly TAG="swiftps$$"       # prefix of every namespace name: unique per run, so parallel runs never clash
readonly SUBNET=10.77.0        # the same private /24 in every run is fine: each run has its own isolated hub
readonly NODES=(coordinator server0 server1 worker0 worker1)
declare -A HOST=([coordinator]=1 [server0]=11 [server1]=12 [worker0]=21 [worker1]=22)

# Run A: a job that finishes in a few seconds here and is well above the threshold (about 0.94).
readonly A_JOB=(--train-samples 200000 --epochs 1)
readonly A_MIN_ACCURACY=0.90
# Run B: long enough (about 3000 steps a worker) that worker1 is mid-training when its link is cut.
readonly B_JOB=(--train-samples 400000 --epochs 1 --heartbeat-timeout-ms 2000)
readonly B_MIN_ACCURACY=0.90
readonly B_CUT_AFTER_STEP=200  # cut worker1's link once it has reported at least this step
readonly RUN_LIMIT=120         # seconds any one run may take before it counts as hung
readonly DEAD_LIMIT=20         # seconds after the cut within which the coordinator must mark worker1 dead
readonly WORKER1_GRACE=30      # seconds after the cut within which worker1 must give up by itself (its heartbeats time out)

WORK=$(mktemp -d /tmp/swiftps-netns.XXXXXX)
CREATED_NS=()     # namespaces to delete, in creation order
STARTED_PIDS=()   # every swiftps process started, by PID
declare -A PID    # node name -> PID in the current run
RUN_DIR=""        # logs of the current run: NODE.out (stdout: progress/result lines), NODE.log (stderr)
SUMMARY=()
STATUS=""         # set by wait_exit

say() { echo "==> $*"; }

# --- cleanup ------------------------------------------------------------------------------------------------

# True while PID is a child of this shell that has not exited; false once it has exited, is gone, or the
# number has been reused by some other process.
running() {
  local stat state ppid
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }                      # drop "PID (COMM) ": COMM may contain spaces
  read -r state ppid _ <<<"$stat"
  [[ $ppid == "$$" && $state != Z ]]
}

stop_started() {
  local pid left
  for pid in "${STARTED_PIDS[@]}"; do
    if running "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for _ in $(seq 30); do                 # up to 3 s to exit on SIGTERM
    left=0
    for pid in "${STARTED_PIDS[@]}"; do
      if running "$pid"; then left=1; fi
    done
    [[ $left == 1 ]] || break
    sleep 0.1
  done
  for pid in "${STARTED_PIDS[@]}"; do
    if running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  for pid in "${STARTED_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}

cleanup() {
  local status=$? ns
  trap - EXIT
  trap '' INT TERM   # finish cleaning up even if signalled again
  set +e
  stop_started
  if [[ -n ${NETNS_LOG_DIR:-} ]]; then
    mkdir -p "$NETNS_LOG_DIR" && cp -r "$WORK"/. "$NETNS_LOG_DIR"/ && echo "logs copied to $NETNS_LOG_DIR"
  fi
  # Deleting a namespace destroys the veth ends in it, and with them their peers and the bridge.
  for ns in "${CREATED_NS[@]}"; do ip netns delete "$ns" 2>/dev/null; done
  rm -rf "$WORK"
  if [[ $status == 0 ]]; then echo "netns test passed"; else echo "netns test FAILED" >&2; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT   # so that an interrupted or timed-out run cleans up too
trap 'exit 143' TERM

# --- failure reporting --------------------------------------------------------------------------------------

dump_logs() {
  local node
  [[ -n $RUN_DIR ]] || return 0
  for node in "${NODES[@]}"; do
    [[ -f $RUN_DIR/$node.log ]] || continue
    echo "----- $node (stderr, last 15 lines)" >&2
    tail -n 15 "$RUN_DIR/$node.log" >&2
    if [[ -s $RUN_DIR/$node.out ]]; then
      echo "----- $node (stdout, last 3 lines)" >&2
      tail -n 3 "$RUN_DIR/$node.out" >&2
    fi
  done
}

fail() {
  echo "FAIL: $*" >&2
  dump_logs
  exit 1
}

# --- network ------------------------------------------------------------------------------------------------

ns() { echo "$TAG-$1"; }     # a node's namespace
hub_port() { echo "h-$1"; }  # a node's veth end on the bridge (in the hub namespace; at most 15 characters)

setup_network() {
  local hub node
  hub=$(ns hub)
  ip netns add "$hub"
  CREATED_NS+=("$hub")
  ip -n "$hub" link set lo up
  ip -n "$hub" link add br0 type bridge
  ip -n "$hub" link set br0 up
  for node in "${NODES[@]}"; do
    ip netns add "$(ns "$node")"
    CREATED_NS+=("$(ns "$node")")
    ip -n "$(ns "$node")" link set lo up
    # Both ends are named inside private namespaces, so the names cannot clash with anything else.
    ip -n "$hub" link add "$(hub_port "$node")" type veth peer name eth0 netns "$(ns "$node")"
    ip -n "$hub" link set "$(hub_port "$node")" master br0 up
    ip -n "$(ns "$node")" addr add "$SUBNET.${HOST[$node]}/24" dev eth0
    ip -n "$(ns "$node")" link set eth0 up
  done
  # No reachability probe (ping is not always installed): the bridge has STP off, so its ports forward at once,
  # and servers and workers keep retrying the coordinator for --connect-timeout (30 s) anyway.
}

# --- processes ----------------------------------------------------------------------------------------------

# start NODE ARGS...: runs `swiftps ARGS...` in NODE's namespace in the background.
start() {
  local node=$1
  shift
  ip netns exec "$(ns "$node")" "$BIN" "$@" >"$RUN_DIR/$node.out" 2>"$RUN_DIR/$node.log" &
  PID[$node]=$!
  STARTED_PIDS+=("$!")
}

# start_cluster PORT JOB_ARGS...: the coordinator (with the job flags) and two servers and two workers.
start_cluster() {
  local port=$1 endpoint
  shift
  endpoint="tcp://$SUBNET.${HOST[coordinator]}:$port"
  local consistency=()
  if [[ -n $CONSISTENCY ]]; then consistency=(--consistency "$CONSISTENCY"); fi
  # Every process holds the run's keys (a key per worker): the whole cluster speaks CurveZMQ.
  local keys=(--keys "$WORK/keys")
  start coordinator coordinator --bind "tcp://*:$port" --servers 2 --workers 2 "${keys[@]}" "$@" "${consistency[@]}"
  # Servers bind a wildcard and advertise the address that routes to the coordinator (no --advertise).
  start server0 server --coordinator "$endpoint" "${keys[@]}"
  start server1 server --coordinator "$endpoint" "${keys[@]}"
  start worker0 worker --coordinator "$endpoint" --progress-every 10 "${keys[@]}" --key worker-0
  start worker1 worker --coordinator "$endpoint" --progress-every 10 "${keys[@]}" --key worker-1
}

now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# wait_exit NODE DEADLINE: waits until NODE's process exits or $SECONDS reaches DEADLINE; sets STATUS to its
# exit status, or to "timeout" (the process is left running). Not in $(...): only this shell can wait.
wait_exit() {
  local pid=${PID[$1]}
  STATUS=0
  while running "$pid"; do
    if ((SECONDS >= $2)); then STATUS=timeout; return; fi
    sleep 0.2
  done
  wait "$pid" || STATUS=$?
}

# expect_exit0 DEADLINE NODES...: every NODE exits 0 before DEADLINE; fails as soon as one exits otherwise.
expect_exit0() {
  local deadline=$1 node pending still
  shift
  pending=("$@")
  while true; do
    still=()
    for node in "${pending[@]}"; do
      if running "${PID[$node]}"; then
        still+=("$node")
      else
        wait_exit "$node" "$deadline"
        [[ $STATUS == 0 ]] || fail "$node exited with status $STATUS"
      fi
    done
    pending=("${still[@]}")
    ((${#pending[@]} > 0)) || return 0
    ((SECONDS < deadline)) || fail "still running at the deadline ($RUN_LIMIT s after the start): ${pending[*]}"
    sleep 0.2
  done
}

# The latest step a worker has reported, 0 before its first progress line.
last_step() {
  local step
  step=$(grep -o '^progress {"rank":[0-9]*,"step":[0-9]*' "$RUN_DIR/$1.out" 2>/dev/null | tail -n 1 | sed 's/.*://')
  echo "${step:-0}"
}

# The held-out accuracy in a worker's `result {...}` line; fails when there is none.
accuracy() {
  local value
  value=$(grep '^result {' "$RUN_DIR/$1.out" | grep -o '"accuracy":[0-9.e+-]*' | sed 's/.*://') || true
  [[ -n $value ]] || fail "$1 printed no result line"
  echo "$value"
}

# expect_accuracy NODE MIN
expect_accuracy() {
  local value
  value=$(accuracy "$1")
  awk -v a="$value" -v m="$2" 'BEGIN { exit !(a >= m) }' || fail "$1's held-out accuracy $value is below $2"
  echo "$value"
}

# Both servers registered with their namespace address, and advertised it themselves.
expect_server_addresses() {
  local node address
  for node in server0 server1; do
    address="tcp://$SUBNET.${HOST[$node]}:"
    grep -q "advertised $address" "$RUN_DIR/$node.out" \
      || fail "$node did not advertise $address (its stdout: $(head -c 200 "$RUN_DIR/$node.out"))"
    grep -q "registered at $address" "$RUN_DIR/coordinator.log" \
      || fail "the coordinator has no server registered at $address"
  done
}

# Milliseconds since midnight (UTC) of a log line's "HH:MM:SS.mmm" stamp.
stamp_ms() {
  awk -F'[:. ]' '{ printf "%d\n", (($1 * 60 + $2) * 60 + $3) * 1000 + $4 }' <<<"$1"
}

# ms_between STAMP1 STAMP2: milliseconds from one stamp to the next (across midnight too).
ms_between() {
  echo $(( ($(stamp_ms "$2") - $(stamp_ms "$1") + 86400000) % 86400000 ))
}

# --- the runs -----------------------------------------------------------------------------------------------

run_a() {
  local start deadline acc0 acc1
  say "run A: full job (${A_JOB[*]}${CONSISTENCY:+, consistency $CONSISTENCY})"
  RUN_DIR=$WORK/a
  mkdir -p "$RUN_DIR"
  start=$(now_s)
  deadline=$((SECONDS + RUN_LIMIT))
  start_cluster 7000 "${A_JOB[@]}"
  expect_exit0 "$deadline" worker0 worker1 server0 server1 coordinator
  expect_server_addresses
  acc0=$(expect_accuracy worker0 "$A_MIN_ACCURACY")
  acc1=$(expect_accuracy worker1 "$A_MIN_ACCURACY")
  if grep -q "marked dead" "$RUN_DIR/coordinator.log"; then fail "run A: the coordinator marked a node dead"; fi
  SUMMARY+=("run A: $(elapsed "$start" "$(now_s)") s; accuracy worker0 $acc0, worker1 $acc1 (min $A_MIN_ACCURACY)")
  say "run A passed"
}

run_b() {
  local start deadline cut_deadline step id cut_at cut_stamp dead_line dead_ms finished_line acc0 worker1_outcome
  say "run B: cut worker1's link mid-training (${B_JOB[*]}${CONSISTENCY:+, consistency $CONSISTENCY})"
  RUN_DIR=$WORK/b
  mkdir -p "$RUN_DIR"
  start=$(now_s)
  deadline=$((SECONDS + RUN_LIMIT))
  start_cluster 7001 "${B_JOB[@]}"

  # Wait until worker1 is training (bounded; it reports a progress line every 10 steps).
  while step=$(last_step worker1); ((step < B_CUT_AFTER_STEP)); do
    running "${PID[worker1]}" || fail "worker1 exited before reaching step $B_CUT_AFTER_STEP"
    ((SECONDS < deadline)) || fail "worker1 did not reach step $B_CUT_AFTER_STEP within $RUN_LIMIT s"
    sleep 0.1
  done
  if grep -q '^result {' "$RUN_DIR/worker1.out"; then fail "worker1 finished before its link could be cut"; fi
  id=$(grep -m 1 -o '\[worker [0-9][0-9]*\]' "$RUN_DIR/worker1.log" | tr -dc 0-9) \
    || fail "cannot find worker1's node id in its log"

  # Pull the cable: worker1's port on the bridge goes down (its own eth0 loses carrier).
  cut_stamp=$(date -u +%H:%M:%S.%3N)
  cut_at=$SECONDS
  ip -n "$(ns hub)" link set "$(hub_port worker1)" down
  say "cut worker1 (node $id) at step $step, $cut_stamp UTC"

  # The coordinator must notice the silence.
  cut_deadline=$((cut_at + DEAD_LIMIT))
  until dead_line=$(grep -m 1 "worker $id missed heartbeats.*marked dead" "$RUN_DIR/coordinator.log"); do
    ((SECONDS < cut_deadline)) || fail "the coordinator did not mark worker1 (node $id) dead within $DEAD_LIMIT s of the cut"
    sleep 0.1
  done
  dead_ms=$(ms_between "$cut_stamp" "${dead_line%% *}")
  say "coordinator: $dead_line"

  # The job finishes without worker1.
  expect_exit0 "$deadline" worker0 server0 server1 coordinator
  finished_line=$(grep -m 1 "job finished" "$RUN_DIR/coordinator.log") \
    || fail "the coordinator exited without logging that the job finished"
  [[ $(grep -c "marked dead" "$RUN_DIR/coordinator.log") == 1 ]] \
    || fail "run B: the coordinator marked other nodes dead too: $(grep "marked dead" "$RUN_DIR/coordinator.log")"
  expect_server_addresses
  acc0=$(expect_accuracy worker0 "$B_MIN_ACCURACY")

  # worker1 is cut off: its heartbeats go unanswered, so it must give up by itself (non-zero) and say why.
  wait_exit worker1 $((cut_at + WORKER1_GRACE))
  case $STATUS in
    timeout)
      kill -KILL "${PID[worker1]}"
      { wait "${PID[worker1]}"; } 2>/dev/null || true  # (without bash's "Killed" notice)
      fail "worker1 was still running ${WORKER1_GRACE} s after its link was cut"
      ;;
    0) fail "worker1 exited 0 although its link was cut at step $step" ;;
    *) worker1_outcome="exited $STATUS by itself $((SECONDS - cut_at)) s after the cut" ;;
  esac
  grep -q "no answer from the coordinator" "$RUN_DIR/worker1.log" \
    || fail "worker1 did not say it had lost the coordinator"
  if grep -q '^result {' "$RUN_DIR/worker1.out"; then fail "worker1 printed a result although its link was cut"; fi
  SUMMARY+=("run B: $(elapsed "$start" "$(now_s)") s; cut worker1 at step $step; marked dead $dead_ms ms after the cut," \
            "        job finished $(ms_between "$cut_stamp" "${finished_line%% *}") ms after the cut;" \
            "        worker0 accuracy $acc0 (min $B_MIN_ACCURACY); worker1 $worker1_outcome")
  say "run B passed"
}

# --- main ---------------------------------------------------------------------------------------------------

[[ $(id -u) == 0 ]] || { echo "netns-test.sh must run as root (ip netns)" >&2; exit 1; }
[[ -x $BIN ]] || { echo "no swiftps binary at $BIN" >&2; exit 1; }
total=$(now_s)
say "namespaces $TAG-*, subnet $SUBNET.0/24, binary $BIN, logs in $WORK"
"$BIN" keygen --out "$WORK/keys" --workers 2 >/dev/null
setup_network
run_a
run_b
echo
echo "summary (total $(elapsed "$total" "$(now_s)") s):"
printf '  %s\n' "${SUMMARY[@]}"
