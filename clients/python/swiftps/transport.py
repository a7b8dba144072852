"""One ZeroMQ DEALER connection to a coordinator or a server, and calls over several at once.

A message is frame 0, a protobuf ``Envelope``, then one frame per ``Envelope.tensors`` entry. Requests carry an id
unique on their connection; the reply carries it back, so replies are matched to requests by id and a late reply
(to a call that already timed out) is dropped. Deadlines are kept here, on the client: ``timeout_ms`` in the
envelope tells the peer, which does not act on it.

pyzmq sockets are not thread-safe: a ``Connection`` touches its socket only with its lock held (a send; a poll and
read of the replies that have arrived, at most 50 ms at a time), so several threads may share one, and a thread may
keep several requests in flight (``Connection.start``, ``wait_all``). The client's heartbeat thread still uses a
socket of its own, so that it never waits behind a long call.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from typing import Sequence

import zmq

from .errors import StatusCode, SwiftPSError
from .v1 import swiftps_pb2 as pb
from .wire import DType, accepts, key_name

METHOD_NAMES = {
    pb.REGISTER: "Coordinator/Register",
    pb.HEARTBEAT: "Coordinator/Heartbeat",
    pb.GET_SHARD_MAP: "Coordinator/GetShardMap",
    pb.BARRIER: "Coordinator/Barrier",
    pb.FINISH: "Coordinator/Finish",
    pb.CLUSTER_STATUS: "Coordinator/ClusterStatus",
    pb.DECLARE_TENSORS: "Coordinator/DeclareTensors",
    pb.PUSH: "ParameterServer/Push",
    pb.PULL: "ParameterServer/Pull",
    pb.PUSH_PULL: "ParameterServer/PushPull",
    pb.STATS: "ParameterServer/Stats",
    pb.ASSIGN: "ParameterServer/Assign",
}


@dataclasses.dataclass
class OutgoingTensor:
    """A payload to send: its key, dtype, element count and bytes (any buffer)."""

    key: int
    dtype: DType
    count: int
    payload: object


@dataclasses.dataclass
class ReceivedTensor:
    """A payload as received: its header (key, dtype, count, frame, version) and bytes."""

    key: int
    dtype: DType
    count: int
    version: int
    payload: memoryview


@dataclasses.dataclass
class Reply:
    envelope: pb.Envelope
    tensors: list[ReceivedTensor]

    def body(self, message_type):
        """The reply's rpc message, decoded as ``message_type``."""
        return message_type.FromString(self.envelope.body)


class Pending:
    """A request on its way: ``wait()`` gives its ``Reply`` (or raises its ``SwiftPSError``)."""

    def __init__(self, connection: "Connection", request_id: int, method: int, deadline: float, timeout: float):
        self.connection = connection
        self.request_id = request_id
        self.method = method
        self.deadline = deadline
        self.timeout = timeout
        self.result: Reply | SwiftPSError | None = None

    @property
    def done(self) -> bool:
        return self.result is not None

    def wait(self) -> Reply:
        wait_all([self])
        if isinstance(self.result, SwiftPSError):
            raise self.result
        return self.result


class Connection:
    """A DEALER socket connected to one peer. Connecting is lazy (ZeroMQ's): requests sent before the peer is up
    wait in the socket's queue until it answers or the call's deadline passes. Thread-safe: the socket is only
    touched with the connection's lock held."""

    def __init__(self, context: zmq.Context, endpoint: str, curve: "CurveKeys | None" = None):
        self.endpoint = endpoint
        self._socket = context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            curve.apply(self._socket)
        self._socket.connect(endpoint)
        self._lock = threading.Lock()
        self._next_id = 1
        self._closed = False
        self._outstanding: set[int] = set()
        self._arrived: dict[int, list] = {}

    def start(self, method: int, request=None, tensors: Sequence[OutgoingTensor] = (),
              timeout: float = 30.0) -> Pending:
        """Sends a request now; its reply is awaited later with ``Pending.wait`` (or ``wait_all``). Requests started
        one after another on a connection leave in that order."""
        name = METHOD_NAMES.get(method, str(method))
        with self._lock:
            if self._closed:
                raise SwiftPSError(StatusCode.CANCELLED, "connection closed", method=name, endpoint=self.endpoint)
            request_id = self._next_id
            self._next_id += 1
            envelope = pb.Envelope(request_id=request_id, method=method,
                                   timeout_ms=max(0, min(int(timeout * 1000), 0xFFFFFFFF)),
                                   body=request.SerializeToString() if request is not None else b"")
            for index, t in enumerate(tensors, start=1):
                envelope.tensors.add(key=t.key, dtype=int(t.dtype), count=t.count, frame=index)
            frames = [envelope.SerializeToString()] + [t.payload for t in tensors]
            try:
                self._socket.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
            except zmq.Again:
                raise SwiftPSError(StatusCode.RESOURCE_EXHAUSTED, "send queue full", method=name,
                                   endpoint=self.endpoint) from None
            self._outstanding.add(request_id)
        return Pending(self, request_id, method, time.monotonic() + timeout, timeout)

    def call(self, method: int, request=None, tensors: Sequence[OutgoingTensor] = (), timeout: float = 30.0) -> Reply:
        """Sends one request and waits for its reply; raises ``SwiftPSError`` for a status other than OK, and
        DEADLINE_EXCEEDED when no reply comes within ``timeout`` seconds."""
        return self.start(method, request, tensors, timeout).wait()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._socket.close(linger=0)

    # ---- with the lock held -----------------------------------------------------------------------------------

    def _drain(self) -> None:
        """Moves every reply that has arrived to ``_arrived``, dropping those nobody waits for."""
        if self._closed:
            return
        while True:
            try:
                frames = self._socket.recv_multipart(flags=zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            envelope = pb.Envelope()
            try:
                envelope.ParseFromString(frames[0].bytes)
            except Exception:  # not an envelope: nobody can be waiting for it
                continue
            if envelope.request_id in self._outstanding:
                self._outstanding.discard(envelope.request_id)
                self._arrived[envelope.request_id] = [envelope] + frames[1:]
            # else: late (its call ended at its deadline) or duplicate

    def _take(self, p: Pending) -> None:
        frames = self._arrived.pop(p.request_id, None)
        if frames is not None:
            p.result = _reply(frames, p.method, self.endpoint)
        elif self._closed:
            p.result = SwiftPSError(StatusCode.CANCELLED, "connection closed", method=METHOD_NAMES.get(p.method),
                                    endpoint=self.endpoint)

    def _expire(self, p: Pending) -> None:
        self._outstanding.discard(p.request_id)
        self._arrived.pop(p.request_id, None)
        p.result = SwiftPSError(StatusCode.DEADLINE_EXCEEDED, f"no reply within {p.timeout:g} s",
                                method=METHOD_NAMES.get(p.method), endpoint=self.endpoint)


def _reply(frames, method: int, endpoint: str) -> Reply | SwiftPSError:
    envelope = frames[0]
    name = METHOD_NAMES.get(method, str(method))
    if envelope.HasField("status") and envelope.status.code != StatusCode.OK:
        return SwiftPSError(envelope.status.code, envelope.status.message, method=name, endpoint=endpoint)
    payloads = frames[1:]
    if len(envelope.tensors) != len(payloads):
        return SwiftPSError(StatusCode.INVALID_ARGUMENT, f"reply describes {len(envelope.tensors)} payload frames, "
                            f"has {len(payloads)}", method=name, endpoint=endpoint)
    used = set()
    tensors = []
    for h in envelope.tensors:
        index = h.frame - 1
        try:
            dtype = DType(h.dtype)
        except ValueError:
            dtype = None
        if not (0 <= index < len(payloads)) or index in used or dtype is None or \
                not accepts(dtype, len(payloads[index].buffer), h.count):
            return SwiftPSError(StatusCode.INVALID_ARGUMENT, f"reply tensor {key_name(h.key)} does not match its "
                                "frame", method=name, endpoint=endpoint)
        used.add(index)
        tensors.append(ReceivedTensor(h.key, dtype, h.count, h.version, payloads[index].buffer))
    return Reply(envelope, tensors)


# Longest a waiter holds the connections' locks in one poll: other threads' sends wait at most this long.
_POLL_SLICE = 0.05


def wait_all(pendings: Sequence[Pending]) -> None:
    """Waits until every request has its reply or has passed its deadline (each ``result`` set; nothing raised)."""
    while True:
        unfinished = [p for p in pendings if p.result is None]
        if not unfinished:
            return
        connections = sorted({id(p.connection): p.connection for p in unfinished}.values(), key=id)
        for conn in connections:
            conn._lock.acquire()
        try:
            for conn in connections:
                conn._drain()
            now = time.monotonic()
            for p in unfinished:
                p.connection._take(p)
                if p.result is None and p.deadline <= now:
                    p.connection._expire(p)
            unfinished = [p for p in unfinished if p.result is None]
            if not unfinished:
                return
            poller = zmq.Poller()
            for conn in {id(p.connection): p.connection for p in unfinished}.values():
                poller.register(conn._socket, zmq.POLLIN)
            nearest = min(p.deadline for p in unfinished)
            poller.poll(timeout=max(1, int(min(_POLL_SLICE, nearest - now) * 1000)))
        finally:
            for conn in reversed(connections):
                conn._lock.release()


def call_many(starts: Sequence[tuple], timeout: float) -> list[Reply | SwiftPSError]:
    """Starts every request (``(connection, method, request, tensors)``, in order), then waits for all their
    replies. Returns, per request, its ``Reply`` or the ``SwiftPSError`` it ended with: a call spread over several
    servers takes one round trip, not one per server."""
    pendings: list = []
    for conn, method, request, tensors in starts:
        try:
            pendings.append(conn.start(method, request, tensors, timeout))
        except SwiftPSError as error:
            pendings.append(error)
    wait_all([p for p in pendings if isinstance(p, Pending)])
    return [p if isinstance(p, SwiftPSError) else p.result for p in pendings]


class CurveKeys:
    """A client's CurveZMQ keys from a ``swiftps keygen`` directory: the cluster's public key and the client's own
    pair (``NAME.key``, its public key derived), as every socket of a client of a keyed cluster needs them."""

    def __init__(self, directory: str, name: str = "worker"):
        import os
        import stat

        def read(path: str) -> bytes:
            with open(path, "rb") as f:
                key = f.read().strip()
            if len(key) != 40:
                raise ValueError(f"{path}: not a Z85 key (one line of 40 characters)")
            return key

        secret_path = os.path.join(directory, f"{name}.key")
        mode = os.stat(secret_path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PermissionError(f"{secret_path} holds a secret key but other users may read it: chmod 600 it")
        self.server_public = read(os.path.join(directory, "cluster.pub"))
        self.secret = read(secret_path)
        self.public = zmq.curve_public(self.secret)

    def apply(self, socket: zmq.Socket) -> None:
        socket.curve_serverkey = self.server_public
        socket.curve_publickey = self.public
        socket.curve_secretkey = self.secret
