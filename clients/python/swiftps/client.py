"""A swiftps client: attach to a job through its coordinator, declare or fetch the parameter space, and move whole
tensors (assembled from their chunks across servers) as numpy arrays. See docs/protocol.md for the protocol."""
from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from typing import Iterable, Mapping, Sequence

import numpy as np
import zmq

from .errors import StatusCode, SwiftPSError
from .space import Chunk, Tensor, as_tensors
from .transport import Connection, CurveKeys, OutgoingTensor, Pending, Reply, call_many, wait_all
from .v1 import swiftps_pb2 as pb
from .wire import DType, decode_dense, encode_dense, encode_int8, encode_topk

# A request's payload budget and tensor budget (the Swift worker's): larger pushes go as several requests.
MAX_REQUEST_BYTES = 4 << 20
MAX_REQUEST_TENSORS = 8192


def request_parts(byte_counts: Sequence[int], max_bytes: int = MAX_REQUEST_BYTES,
                  max_tensors: int = MAX_REQUEST_TENSORS) -> list[range]:
    """Consecutive runs of at most ``max_bytes`` of payload and ``max_tensors`` tensors (one larger tensor goes
    alone), covering ``byte_counts`` in order."""
    parts, start, total = [], 0, 0
    for index, count in enumerate(byte_counts):
        if index > start and (total + count > max_bytes or index - start == max_tensors):
            parts.append(range(start, index))
            start, total = index, 0
        total += count
    if start < len(byte_counts):
        parts.append(range(start, len(byte_counts)))
    return parts


@dataclasses.dataclass(frozen=True)
class Registration:
    node_id: int
    rank: int
    job: pb.JobConfig


class ShardMap:
    """Where every chunk of every tensor lives (``swiftps.v1.ShardMap``)."""

    def __init__(self, proto: pb.ShardMap):
        self.proto = proto
        self.ready = proto.ready
        self.servers: dict[int, str] = {s.id: s.address for s in proto.servers}
        self.tensors: list[Tensor] = [Tensor.from_proto(t) for t in proto.tensors]
        self.chunks: list[Chunk] = [Chunk.from_proto(c) for c in proto.chunks]
        self.index: dict[str, int] = {t.name: i for i, t in enumerate(self.tensors)}
        self.by_param: list[list[Chunk]] = [[] for _ in self.tensors]
        for c in self.chunks:
            if c.param < len(self.by_param):
                self.by_param[c.param].append(c)
        self.by_key: dict[int, Chunk] = {c.key: c for c in self.chunks}

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tensors]

    def tensor(self, name: str) -> Tensor:
        return self.tensors[self.param(name)]

    def param(self, name: str) -> int:
        try:
            return self.index[name]
        except KeyError:
            raise KeyError(f"no tensor {name!r} in the parameter space") from None

    def chunks_of(self, name: str) -> list[Chunk]:
        return self.by_param[self.param(name)]


class _Heartbeat(threading.Thread):
    """Heartbeats from a thread of its own, on a socket of its own (created and used only in this thread)."""

    def __init__(self, context: zmq.Context, endpoint: str, node_id: int, interval: float, give_up: float,
                 curve: CurveKeys | None = None):
        super().__init__(name=f"swiftps-heartbeat-{node_id}", daemon=True)
        self._context = context
        self._endpoint = endpoint
        self._curve = curve
        self.node_id = node_id
        self.interval = interval
        self.give_up = give_up
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._clock = 0
        self._rate = 0.0
        self.error: SwiftPSError | None = None
        self.job_finished = False
        self.beats = 0

    def progress(self, clock: int, samples_per_second: float) -> None:
        with self._lock:
            self._clock, self._rate = int(clock), float(samples_per_second)

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        connection = Connection(self._context, self._endpoint, self._curve)
        last_answer = time.monotonic()
        try:
            while not self._stopping.is_set():
                with self._lock:
                    request = pb.HeartbeatRequest(node_id=self.node_id, clock=self._clock,
                                                  samples_per_second=self._rate)
                try:
                    reply = connection.call(pb.HEARTBEAT, request, timeout=2.0).body(pb.HeartbeatReply)
                    last_answer = time.monotonic()
                    self.beats += 1
                    self.job_finished = reply.job_finished
                except SwiftPSError as error:
                    if error.code in (StatusCode.FAILED_PRECONDITION, StatusCode.NOT_FOUND):
                        self.error = SwiftPSError(StatusCode.ABORTED,
                                                  f"the coordinator dropped this worker: {error.message}")
                        return
                    if time.monotonic() - last_answer > self.give_up:
                        self.error = SwiftPSError(StatusCode.UNAVAILABLE, f"no answer from the coordinator at "
                                                  f"{self._endpoint} for {self.give_up:g} s")
                        return
                self._stopping.wait(self.interval)
        finally:
            connection.close()


class Client:
    """A connection to a swiftps job through its coordinator (``tcp://HOST:PORT``).

    Typical worker::

        with swiftps.Client("tcp://127.0.0.1:7000") as client:
            client.register_worker()             # node id, rank, job; heartbeats start
            client.wait_for_shard_map()          # servers registered and the space declared
            weights = client.pull()              # {name: np.ndarray}, retried while servers get ready
            for step in range(steps):
                grads = compute(weights)
                weights = client.push_pull(grads, last=step == steps - 1)
            client.barrier("trained")
            final = client.pull()
            client.finish()

    Every method raises ``SwiftPSError`` (with the status code's name) when a call fails. The client may be used
    from several threads; each call holds the locks of the sockets it uses.
    """

    def __init__(self, coordinator: str, *, timeout: float = 30.0, connect_timeout: float = 30.0,
                 keys: str | None = None, key: str = "worker"):
        """``keys``: the key directory of a keyed cluster (``swiftps keygen``); ``key``: the client key to use."""
        self.coordinator_address = coordinator
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._curve = CurveKeys(keys, key) if keys else None
        self._context = zmq.Context()
        self._coordinator = Connection(self._context, coordinator, self._curve)
        self._servers: dict[int, Connection] = {}
        self._heartbeat: _Heartbeat | None = None
        self._residuals: dict[tuple[int, str], np.ndarray] = {}
        self._closed = False
        self.registration: Registration | None = None
        self.job: pb.JobConfig | None = None
        self.shard_map: ShardMap | None = None
        self.tensors: list[Tensor] = []
        #: The version (updates applied) of every key, as the last pull or push-pull saw it.
        self.versions: dict[int, int] = {}
        #: From the last push-pull: the clock it belonged to, and the largest lag over the servers.
        self.last_clock = 0
        self.last_lag = 0

    # ---- lifetime ---------------------------------------------------------------------------------------------

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stops the heartbeat and closes every socket (without finishing: call ``finish`` first)."""
        if self._closed:
            return
        self._closed = True
        self._stop_heartbeat()
        for conn in self._servers.values():
            conn.close()
        self._coordinator.close()
        self._context.term()

    # ---- coordinator ------------------------------------------------------------------------------------------

    @property
    def node_id(self) -> int:
        return self._registered().node_id

    @property
    def rank(self) -> int:
        return self._registered().rank

    @property
    def wire_dtype(self) -> DType:
        """The job's wire dtype (F32 when the job says none): the default of pushes and pulls."""
        return DType.parse(self.job.wire_dtype if self.job is not None else None)

    @property
    def consistency(self) -> str:
        return (self.job.consistency if self.job is not None else "") or "async"

    def register_worker(self, *, instance: str | None = None, heartbeat: bool = True) -> Registration:
        """Registers as a worker (retrying with backoff until the coordinator answers, for ``connect_timeout``) and
        starts heartbeating from a background thread. ``instance`` makes a retried Register idempotent; a fresh
        token by default."""
        request = pb.RegisterRequest(role=pb.WORKER, address="", instance=instance or uuid.uuid4().hex)
        deadline = time.monotonic() + self.connect_timeout
        backoff = 0.1
        while True:
            left = deadline - time.monotonic()
            try:
                reply = self._coordinator.call(pb.REGISTER, request, timeout=min(max(left, 0.1), 2.0))
                break
            except SwiftPSError as error:
                if error.code not in (StatusCode.DEADLINE_EXCEEDED, StatusCode.UNAVAILABLE) or \
                        time.monotonic() + backoff >= deadline:
                    raise
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
        r = reply.body(pb.RegisterReply)
        self.registration = Registration(r.node_id, r.rank, r.job)
        self.job = r.job
        if r.job.tensors and not self.tensors:
            self.tensors = as_tensors(r.job.tensors)
        if heartbeat:
            timeout_ms = r.job.heartbeat_timeout_ms or 5000
            self._heartbeat = _Heartbeat(self._context, self.coordinator_address, r.node_id,
                                         interval=max(0.1, timeout_ms / 5000), give_up=3 * timeout_ms / 1000,
                                         curve=self._curve)
            self._heartbeat.start()
        return self.registration

    def progress(self, clock: int, samples_per_second: float = 0.0) -> None:
        """What the next heartbeats report (``ClusterStatus`` shows it): steps done, samples per second."""
        if self._heartbeat is not None:
            self._heartbeat.progress(clock, samples_per_second)

    def declare(self, tensors: Iterable) -> list[Tensor]:
        """Declares the parameter space (``Tensor``s, ``TensorSpec``s or JSON dicts, in order: the order gives the
        keys). Declaring the space already in force again is fine; another one raises ALREADY_EXISTS. Returns the
        space in force."""
        specs = [t.to_proto() for t in as_tensors(tensors)]
        reply = self._coordinator.call(pb.DECLARE_TENSORS, pb.DeclareTensorsRequest(tensors=specs),
                                       timeout=self.timeout)
        self.tensors = as_tensors(reply.body(pb.DeclareTensorsReply).tensors)
        return self.tensors

    def get_shard_map(self) -> ShardMap:
        """The shard map as it is now (``ready`` may be false)."""
        smap = ShardMap(self._coordinator.call(pb.GET_SHARD_MAP, pb.GetShardMapRequest(),
                                               timeout=self.timeout).body(pb.ShardMap))
        if smap.ready:
            self._use(smap)
        return smap

    def wait_for_shard_map(self, timeout: float = 60.0, poll: float = 0.1) -> ShardMap:
        """Polls GetShardMap until it is ready (every expected server registered and the space declared)."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            smap = self.get_shard_map()
            if smap.ready:
                return smap
            if time.monotonic() + poll > deadline:
                raise SwiftPSError(StatusCode.DEADLINE_EXCEEDED, f"shard map not ready within {timeout:g} s",
                                   method="Coordinator/GetShardMap", endpoint=self.coordinator_address)
            time.sleep(poll)

    def barrier(self, name: str, timeout: float = 600.0) -> int:
        """Waits until every live worker has reached barrier ``name``; returns how many took part."""
        reply = self._coordinator.call(pb.BARRIER, pb.BarrierRequest(name=name, node_id=self.node_id),
                                       timeout=timeout)
        return reply.body(pb.BarrierReply).participants

    def finish(self) -> None:
        """Tells the coordinator this worker is done, then stops heartbeating."""
        self._coordinator.call(pb.FINISH, pb.FinishRequest(node_id=self.node_id), timeout=self.timeout)
        self._stop_heartbeat()

    def cluster_status(self) -> pb.ClusterStatusReply:
        return self._coordinator.call(pb.CLUSTER_STATUS, pb.ClusterStatusRequest(),
                                      timeout=self.timeout).body(pb.ClusterStatusReply)

    @property
    def heartbeat_error(self) -> SwiftPSError | None:
        """Why heartbeats stopped on their own (dropped by the coordinator, or no answer); None while they run."""
        return self._heartbeat.error if self._heartbeat is not None else None

    # ---- servers ----------------------------------------------------------------------------------------------

    def pull(self, names: Iterable[str] | None = None, *, dtype=None, patience: float = 30.0,
             timeout: float | None = None) -> dict[str, np.ndarray]:
        """The current values of whole tensors (all by default), assembled from their chunks on every server, as
        float32 arrays of the tensors' shapes. UNAVAILABLE (a server still building its shard, or a pushed tensor
        not yet assigned) is retried with backoff for ``patience`` seconds."""
        smap = self._map()
        names = list(names) if names is not None else smap.names
        dtype = DType.parse(dtype, self.wire_dtype)
        if not dtype.is_dense:
            raise ValueError("values are pulled as f32, bf16 or f16")
        keys_by_server: dict[int, list[int]] = {}
        for name in names:
            for c in smap.chunks_of(name):
                keys_by_server.setdefault(c.server, []).append(c.key)
        starts = []
        for server, keys in sorted(keys_by_server.items()):
            widths = [smap.by_key[k].count * dtype.width for k in keys]
            for part in request_parts(widths):
                starts.append((self._server(server), pb.PULL,
                               pb.PullRequest(keys=[keys[i] for i in part], dtype=int(dtype)), ()))
        replies = self._retrying(lambda: call_many(starts, timeout or self.timeout), patience)
        return self._assemble(names, [t for reply in replies for t in reply.tensors])

    def push(self, grads: Mapping[str, object], *, dtype=None, compression: str | None = None,
             timeout: float | None = None) -> dict[int, int]:
        """A plain Push (async and ssp jobs; a bsp job refuses it): applies the gradients on arrival. Returns each
        pushed key's new version."""
        plan = self._push_plan(grads, DType.parse(dtype, self.wire_dtype), compression)
        starts = []
        for server, tensors in plan:
            for part in request_parts([len(t.payload) for t in tensors]):
                starts.append((self._server(server), pb.PUSH, pb.PushRequest(), [tensors[i] for i in part]))
        versions: dict[int, int] = {}
        for (_, _, _, tensors), result in zip(starts, call_many(starts, timeout or self.timeout)):
            if isinstance(result, SwiftPSError):
                raise result
            for t, v in zip(tensors, result.body(pb.PushReply).versions):
                versions[t.key] = v
                self.versions[t.key] = v
        return versions

    def push_pull(self, grads: Mapping[str, object], *, more: bool = False, last: bool = False, dtype=None,
                  compression: str | None = None, timeout: float | None = None) -> dict[str, np.ndarray]:
        """Pushes ``grads`` ({name: array}) as this worker's next clock and returns the new values of the same
        tensors once the job's consistency model allows (bsp: when every live worker has pushed the clock).

        ``more``: more pushes of this clock follow (the clock advances with the push that has more=False). Under
        bsp the reply to a ``more`` push waits for the round, which needs the closing push: send the parts with
        ``start_push_pull`` and wait after the last. ``last``: this worker's final push; its clock stops holding
        the others back. Under bsp and ssp every clock must reach every server (push all tensors)."""
        return self.start_push_pull(grads, more=more, last=last, dtype=dtype, compression=compression,
                                    timeout=timeout).wait()

    def start_push_pull(self, grads: Mapping[str, object], *, more: bool = False, last: bool = False, dtype=None,
                        compression: str | None = None, timeout: float | None = None) -> "PendingPushPull":
        """``push_pull`` without waiting: the requests leave now; ``.wait()`` returns the values."""
        self._check_alive()
        values_dtype = DType.parse(dtype, self.wire_dtype)
        if not values_dtype.is_dense:
            raise ValueError("push-pull values come back as f32, bf16 or f16; compress with compression=")
        plan = self._push_plan(grads, values_dtype, compression)
        if timeout is None:
            timeout = self.timeout if self.consistency == "async" else max(self.timeout, 120.0)
        pendings = []
        for server, tensors in plan:
            parts = request_parts([len(t.payload) for t in tensors])
            for n, part in enumerate(parts):
                part_more = more or n + 1 < len(parts)
                request = pb.PushPullRequest(dtype=int(values_dtype), worker_rank=self.rank, more=part_more,
                                             last=last and not part_more)
                pendings.append(self._server(server).start(pb.PUSH_PULL, request, [tensors[i] for i in part],
                                                           timeout))
        return PendingPushPull(self, list(grads), pendings)

    def assign(self, values: Mapping[str, object], *, dtype=None, patience: float = 30.0,
               timeout: float | None = None) -> None:
        """Sets initial values ({name: array}; f32, bf16 or f16 on the wire): allowed while the keys' version is 0
        (no update applied yet), required before a ``pushed`` tensor can be pulled or pushed. UNAVAILABLE (a server
        still building its shard) is retried for ``patience`` seconds."""
        dtype = DType.parse(dtype, DType.F32)
        if not dtype.is_dense:
            raise ValueError("assign sends f32, bf16 or f16")
        plan = self._push_plan(values, dtype, None)
        starts = []
        for server, tensors in plan:
            for part in request_parts([len(t.payload) for t in tensors]):
                starts.append((self._server(server), pb.ASSIGN, pb.AssignRequest(), [tensors[i] for i in part]))
        self._retrying(lambda: call_many(starts, timeout or self.timeout), patience)

    def stats(self) -> dict[int, pb.StatsReply]:
        """Every server's counters, by node id."""
        smap = self._map()
        ids = sorted(smap.servers)
        starts = [(self._server(i), pb.STATS, pb.StatsRequest(), ()) for i in ids]
        out = {}
        for i, result in zip(ids, call_many(starts, self.timeout)):
            if isinstance(result, SwiftPSError):
                raise result
            out[i] = result.body(pb.StatsReply)
        return out

    # ---- internals --------------------------------------------------------------------------------------------

    def _registered(self) -> Registration:
        if self.registration is None:
            raise SwiftPSError(StatusCode.FAILED_PRECONDITION, "not registered: call register_worker() first")
        return self.registration

    def _check_alive(self) -> None:
        if self._heartbeat is not None and self._heartbeat.error is not None:
            raise self._heartbeat.error

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            if self._heartbeat.is_alive() and self._heartbeat is not threading.current_thread():
                self._heartbeat.join(timeout=5)

    def _use(self, smap: ShardMap) -> None:
        self.shard_map = smap
        self.tensors = smap.tensors
        for node_id, address in smap.servers.items():
            if node_id not in self._servers:
                self._servers[node_id] = Connection(self._context, address, self._curve)

    def _map(self) -> ShardMap:
        if self.shard_map is None:
            raise SwiftPSError(StatusCode.FAILED_PRECONDITION, "no shard map yet: call wait_for_shard_map() first")
        return self.shard_map

    def _server(self, node_id: int) -> Connection:
        return self._servers[node_id]

    def _retrying(self, attempt, patience: float) -> list[Reply]:
        """Runs ``attempt`` (idempotent calls) until no result is UNAVAILABLE, backing off 5 ms doubling to 200 ms,
        for at most ``patience`` seconds; raises the first error otherwise."""
        give_up = time.monotonic() + patience
        backoff = 0.005
        while True:
            results = attempt()
            errors = [r for r in results if isinstance(r, SwiftPSError)]
            if not errors:
                return results
            if all(e.code == StatusCode.UNAVAILABLE for e in errors) and time.monotonic() + backoff < give_up:
                time.sleep(backoff)
                backoff = min(backoff * 2, 0.2)
                continue
            raise errors[0]

    def _push_plan(self, grads: Mapping[str, object], dtype: DType,
                   compression: str | None) -> list[tuple[int, list[OutgoingTensor]]]:
        """Per server (by node id), the payloads of every chunk of ``grads``, in space order."""
        smap = self._map()
        by_server: dict[int, list[tuple[int, OutgoingTensor]]] = {}
        for name, array in grads.items():
            param = smap.param(name)
            tensor = smap.tensors[param]
            flat = np.ascontiguousarray(array, dtype=np.float32).reshape(-1)
            if flat.size != tensor.count:
                raise ValueError(f"{name}: {flat.size} values for a tensor of shape {list(tensor.shape)}")
            for c in smap.by_param[param]:
                values = flat[c.offset:c.offset + c.count]
                if compression in (None, "", "none"):
                    out = OutgoingTensor(c.key, dtype, c.count, encode_dense(values, dtype))
                else:
                    out = OutgoingTensor(c.key, *self._compress(c.key, values, compression))
                by_server.setdefault(c.server, []).append((c.key, out))
        return [(server, [t for _, t in sorted(items, key=lambda kv: kv[0])])
                for server, items in sorted(by_server.items())]

    def _compress(self, key: int, values: np.ndarray, compression: str) -> tuple[DType, int, bytes]:
        """A compressed payload with error feedback: what was not sent is added to the key's next gradient."""
        residual = self._residuals.get((key, compression))
        total = values + residual if residual is not None else values.copy()
        text = compression.lower()
        if text == "int8":
            payload, left = encode_int8(total)
            dtype = DType.INT8
        elif text.startswith("topk:"):
            fraction = float(text[5:])
            if not 0 < fraction <= 1:
                raise ValueError(f"top-k fraction must be in (0, 1]: {compression!r}")
            payload, left = encode_topk(total, fraction)
            dtype = DType.TOPK
        else:
            raise ValueError(f"unknown compression {compression!r}: none, int8 or topk:FRACTION")
        self._residuals[(key, compression)] = left
        return dtype, values.size, payload

    def _assemble(self, names: Sequence[str], received) -> dict[str, np.ndarray]:
        smap = self._map()
        flats = {name: np.empty(smap.tensor(name).count, dtype=np.float32) for name in names}
        filled = {name: 0 for name in names}
        for t in received:
            chunk = smap.by_key.get(t.key)
            name = smap.tensors[chunk.param].name if chunk is not None else None
            if name not in flats or t.count != chunk.count or not t.dtype.is_dense:  # (chunk None: name None)
                raise SwiftPSError(StatusCode.INTERNAL, f"server sent key {t.key} with {t.count} elements of dtype "
                                   f"{t.dtype.name}, not a chunk asked for")
            flats[name][chunk.offset:chunk.offset + chunk.count] = decode_dense(t.payload, t.dtype, t.count)
            filled[name] += chunk.count
            self.versions[t.key] = t.version
        for name in names:
            if filled[name] != smap.tensor(name).count:
                raise SwiftPSError(StatusCode.INTERNAL, f"{name}: the servers sent {filled[name]} of "
                                   f"{smap.tensor(name).count} elements")
        return {name: flats[name].reshape(smap.tensor(name).shape) for name in names}


class PendingPushPull:
    """A push-pull on its way (``Client.start_push_pull``)."""

    def __init__(self, client: Client, names: list[str], pendings: list[Pending]):
        self._client = client
        self._names = names
        self._pendings = pendings
        self._values: dict[str, np.ndarray] | None = None

    def wait(self) -> dict[str, np.ndarray]:
        """The new values of the pushed tensors; raises the first failure (``SwiftPSError``)."""
        if self._values is None:
            wait_all(self._pendings)
            errors = [p.result for p in self._pendings if isinstance(p.result, SwiftPSError)]
            if errors:
                raise errors[0]
            received = []
            clock = lag = 0
            for p in self._pendings:
                reply = p.result.body(pb.PushPullReply)
                clock, lag = max(clock, reply.clock), max(lag, reply.lag)
                received += p.result.tensors
            self._client.last_clock, self._client.last_lag = clock, lag
            self._values = self._client._assemble(self._names, received)
        return self._values
