"""The client's pure parts: payload encodings, the digest, the data split, keys and placement, the space's JSON,
request parts, and how replies become errors (against an in-process ROUTER, no swiftps binary)."""
import struct
import threading

import numpy as np
import pytest
import zmq

import swiftps
from swiftps import DType, StatusCode, SwiftPSError, pb
from swiftps.transport import Connection, call_many


def f32(bits):
    return np.array([bits], dtype=np.uint32).view(np.float32)


# ---- dtypes --------------------------------------------------------------------------------------------------

def test_enums_match_the_proto():
    assert {c.name: c.value for c in StatusCode} == dict(pb.StatusCode.items())
    assert {d.name: d.value for d in DType} == {k: v for k, v in pb.DType.items() if v}


@pytest.mark.parametrize("bits, expected", [
    (0x3F800000, 0x3F80),  # 1.0
    (0x3F808000, 0x3F80),  # halfway, even below: down
    (0x3F818000, 0x3F82),  # halfway, odd below: up
    (0x3F808001, 0x3F81),  # above halfway: up
    (0xBF800000, 0xBF80),  # -1.0
    (0x7F800000, 0x7F80),  # +Inf
    (0xFF800000, 0xFF80),  # -Inf
    (0x7F7FFFFF, 0x7F80),  # the largest fp32 rounds up to Inf
    (0x7F800001, 0x7FC0),  # a signalling NaN becomes quiet, truncated
    (0xFFC12345, 0xFFC1),  # a negative NaN keeps its sign
    (0x00000001, 0x0000),  # the smallest subnormal rounds to zero
])
def test_bf16_encoding(bits, expected):
    assert int(swiftps.f32_to_bf16_bits(f32(bits))[0]) == expected


def test_bf16_decoding_is_exact():
    bits = np.arange(0, 1 << 16, 7, dtype=np.uint32).astype(np.uint16)
    values = swiftps.bf16_bits_to_f32(bits)
    assert np.array_equal(values.view(np.uint32), bits.astype(np.uint32) << 16)
    finite = ~np.isnan(values)
    assert np.array_equal(swiftps.f32_to_bf16_bits(values[finite]), bits[finite])


@pytest.mark.parametrize("value, expected", [
    (1.0, 0x3C00), (-2.0, 0xC000), (65504.0, 0x7BFF), (65519.0, 0x7BFF), (65520.0, 0x7C00), (1e9, 0x7C00),
    (-1e9, 0xFC00), (2.0 ** -24, 0x0001), (2.0 ** -25, 0x0000), (3 * 2.0 ** -25, 0x0002), (2.0 ** -14, 0x0400),
    (1.0 + 2.0 ** -11, 0x3C00),  # halfway between 1 and the next f16: to even
    (1.0 + 3 * 2.0 ** -11, 0x3C02),
])
def test_f16_encoding(value, expected):
    assert int(swiftps.f32_to_f16_bits([value])[0]) == expected


def test_f16_nan_is_canonical_and_decodes_quiet():
    assert int(swiftps.f32_to_f16_bits(f32(0x7F800001))[0]) == 0x7E00
    assert int(swiftps.f32_to_f16_bits(f32(0xFFC00000))[0]) == 0xFE00
    decoded = swiftps.f16_bits_to_f32(np.array([0x7C01], dtype=np.uint16))
    assert decoded.view(np.uint32)[0] == 0x7FC02000
    assert np.isinf(swiftps.f16_bits_to_f32(np.array([0x7C00], dtype=np.uint16))[0])


def test_f16_round_trip_of_every_finite_value():
    bits = np.arange(0, 1 << 16, dtype=np.uint32).astype(np.uint16)
    values = swiftps.f16_bits_to_f32(bits)
    finite = np.isfinite(values)
    assert np.array_equal(swiftps.f32_to_f16_bits(values[finite]), bits[finite])


@pytest.mark.parametrize("dtype", ["f32", "bf16", "f16"])
def test_dense_payloads_are_little_endian(dtype):
    values = np.array([1.0, -2.5, 0.0, 3.0], dtype=np.float32)
    payload = swiftps.encode_dense(values, dtype)
    expected = {"f32": struct.pack("<4f", *values),
                "bf16": struct.pack("<4H", 0x3F80, 0xC020, 0x0000, 0x4040),
                "f16": struct.pack("<4H", 0x3C00, 0xC100, 0x0000, 0x4200)}[dtype]
    assert payload == expected
    assert np.array_equal(swiftps.decode_dense(payload, dtype, 4), values)


def test_int8_payload_and_residual():
    x = np.array([127.0, 0.5, -0.5, -63.7, 0.0], dtype=np.float32)
    payload, residual = swiftps.encode_int8(x)
    assert len(payload) == 4 + 5
    assert struct.unpack("<f", payload[:4])[0] == 1.0  # max |x| / 127
    assert list(np.frombuffer(payload[4:], dtype=np.int8)) == [127, 1, -1, -64, 0]  # ties away from zero
    decoded = swiftps.decode_compressed(payload, DType.INT8, 5)
    assert np.array_equal(decoded + residual, x)


def test_topk_payload_and_residual():
    x = np.array([0.1, -3.0, 2.0, 3.0], dtype=np.float32)
    payload, residual = swiftps.encode_topk(x, 0.5)
    assert payload == struct.pack("<IfIf", 1, -3.0, 3, 3.0)
    assert np.array_equal(residual, np.array([0.1, 0, 2.0, 0], dtype=np.float32))
    assert np.array_equal(swiftps.decode_compressed(payload, DType.TOPK, 4), x - residual)
    ties, _ = swiftps.encode_topk(np.ones(4, np.float32), 0.5)
    assert [i for i, _ in struct.iter_unpack("<If", ties)] == [0, 1]  # ties to the lower index
    assert swiftps.wire.topk_count(0.001, 10) == 1 and swiftps.wire.topk_count(0.25, 10) == 3


def test_payload_size_rules():
    accepts = swiftps.wire.accepts
    assert accepts(DType.F32, 12, 3) and not accepts(DType.F32, 11, 3)
    assert accepts(DType.BF16, 6, 3) and accepts(DType.F16, 6, 3)
    assert accepts(DType.INT8, 7, 3) and not accepts(DType.INT8, 3, 3)
    assert accepts(DType.TOPK, 16, 3) and not accepts(DType.TOPK, 32, 3) and not accepts(DType.TOPK, 0, 3)


# ---- digest --------------------------------------------------------------------------------------------------

def test_fnv1a_reference_values():
    assert swiftps.digest.fnv1a64(b"") == 0xCBF29CE484222325
    assert swiftps.digest.fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert swiftps.digest.fnv1a64(b"foobar") == 0x85944171F73967E8


def test_model_digest():
    assert swiftps.model_digest([]) == "cbf29ce484222325"
    a = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    b = np.array([7.0], dtype=np.float32)
    expected = swiftps.digest.fnv1a64(struct.pack("<5f", 1.0, -2.0, 0.5, 3.0, 7.0))
    assert swiftps.model_digest([a, b]) == f"{expected:016x}"
    assert swiftps.model_digest([a, b]) != swiftps.model_digest([b, a])  # order matters
    assert len(swiftps.model_digest([a])) == 16


# ---- data split ----------------------------------------------------------------------------------------------

def test_shard_ranges_cover_every_sample_once():
    assert [swiftps.shard_range(10, r, 3) for r in range(3)] == [(0, 4), (4, 7), (7, 10)]
    for n in (0, 1, 7, 100, 101):
        for w in (1, 2, 3, 8):
            ranges = [swiftps.shard_range(n, r, w) for r in range(w)]
            assert ranges[0][0] == 0 and ranges[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
            sizes = [e - s for s, e in ranges]
            assert max(sizes) - min(sizes) <= 1
    assert swiftps.shard_range(10, 4, 3) == swiftps.shard_range(10, 1, 3)  # a joining rank: rank % workers
    assert list(swiftps.shard(np.arange(10), 2, 3)) == [7, 8, 9]


# ---- keys, placement, the space ------------------------------------------------------------------------------

def test_keys():
    assert swiftps.key(3, 5) == (3 << 32) | 5
    assert swiftps.key_name(swiftps.key(3, 5)) == "3:5"


def test_placement_least_loaded_ties_to_lower_id():
    chunks = swiftps.placement([10, 3, 7], chunk_elements=4, servers=[9, 2])
    assert [(c.param, c.offset, c.count, c.server) for c in chunks] == [
        (0, 0, 4, 2), (0, 4, 4, 9), (0, 8, 2, 2), (1, 0, 3, 9), (2, 0, 4, 2), (2, 4, 3, 9)]
    assert [c.key for c in chunks[:3]] == [0, 1, 2] and chunks[3].key == 1 << 32


def test_mlp_preset():
    tensors = swiftps.mlp_tensors([16, 32, 4])
    assert [(t.name, t.shape, t.init, t.weight_decay) for t in tensors] == [
        ("layers.0.weight", (16, 32), "he_normal", True), ("layers.0.bias", (32,), "zeros", False),
        ("layers.1.weight", (32, 4), "he_normal", True), ("layers.1.bias", (4,), "zeros", False)]
    assert swiftps.parse_mlp("mlp:16,32,4") == [16, 32, 4]


def test_space_json_round_trip_and_proto():
    text = '''{"tensors": [{"name": "w", "shape": [784, 10], "init": "he_normal"},
                           {"name": "b", "shape": [10], "weight_decay": false},
                           {"name": "c", "shape": [2, 3, 4], "init": "uniform:-0.5,0.5", "lr_scale": 0.1,
                            "frozen": true, "fan_in": 12}]}'''
    space = swiftps.space_from_json(text)
    assert space[1].init == "zeros" and space[1].lr_scale == 1.0
    assert swiftps.space_from_json(swiftps.space_to_json(space)) == space
    protos = [t.to_proto() for t in space]
    assert protos[0].initializer == pb.INIT_HE_NORMAL and protos[1].no_weight_decay
    assert protos[2].initializer == pb.INIT_UNIFORM and protos[2].init_a == -0.5 and protos[2].init_b == 0.5
    assert protos[2].frozen and list(protos[2].shape) == [2, 3, 4]
    assert [swiftps.Tensor.from_proto(p) for p in protos] == space
    assert swiftps.parse_init("constant:0.1") == (pb.INIT_CONSTANT, 0.1, 0.0)
    assert swiftps.parse_init("normal:0.02")[0] == pb.INIT_NORMAL
    assert swiftps.parse_init("pushed")[0] == pb.INIT_PUSHED
    with pytest.raises(ValueError):
        swiftps.parse_init("gaussian")
    with pytest.raises(ValueError):
        swiftps.Tensor("x", (0, 3))
    with pytest.raises(ValueError):
        swiftps.space_from_json('{"tensors": [{"name": "x", "shape": [1], "colour": "red"}]}')


def test_initial_values():
    assert int(swiftps.space._mix(np.array([0x9E3779B97F4A7C15], np.uint64))[0]) == 0xE220A8397B1DCDAF  # SplitMix64(0)
    w = swiftps.initial_values(swiftps.Tensor("w", (200, 50), init="he_normal"), seed=42, index=0)
    assert w.shape == (200, 50) and w.dtype == np.float32 and abs(w.std() - 0.1) < 0.005
    again = swiftps.initial_values(swiftps.Tensor("w", (200, 50), init="he_normal"), seed=42, index=0)
    assert np.array_equal(w, again)
    other = swiftps.initial_values(swiftps.Tensor("w", (200, 50), init="he_normal"), seed=42, index=1)
    assert not np.array_equal(w, other)
    u = swiftps.initial_values(swiftps.Tensor("u", (1000,), init="uniform:-2,3"), seed=1, index=4)
    assert u.min() >= -2 and u.max() < 3 and abs(u.mean() - 0.5) < 0.1
    x = swiftps.initial_values(swiftps.Tensor("x", (30, 10), init="xavier_uniform"), seed=1, index=2)
    assert np.abs(x).max() <= (6 / 40) ** 0.5
    assert not swiftps.initial_values(swiftps.Tensor("p", (3,), init="pushed"), seed=1, index=0).any()
    assert (swiftps.initial_values(swiftps.Tensor("c", (3,), init="constant:0.1"), 1, 0) == np.float32(0.1)).all()


def test_request_parts():
    assert swiftps.request_parts([]) == []
    assert [list(r) for r in swiftps.request_parts([3, 3, 3], max_bytes=6)] == [[0, 1], [2]]
    assert [list(r) for r in swiftps.request_parts([10, 1], max_bytes=6)] == [[0], [1]]  # too large: alone
    assert [list(r) for r in swiftps.request_parts([1] * 5, max_tensors=2)] == [[0, 1], [2, 3], [4]]


# ---- errors, against an in-process ROUTER --------------------------------------------------------------------

class FakePeer:
    """A ROUTER on 127.0.0.1 that answers each request with ``answer(envelope, payloads)`` -> frames (or None)."""

    def __init__(self, answer):
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.answer = answer
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        while not self.stopping.is_set():
            if not poller.poll(50):
                continue
            identity, *frames = self.socket.recv_multipart()
            request = pb.Envelope.FromString(frames[0])
            reply = self.answer(request, frames[1:])
            if reply is not None:
                self.socket.send_multipart([identity] + reply)

    def close(self):
        self.stopping.set()
        self.thread.join()
        self.socket.close()
        self.context.term()


@pytest.fixture
def client_context():
    context = zmq.Context()
    yield context
    context.term()


def test_error_status_becomes_swiftps_error(client_context):
    def answer(request, payloads):
        status = pb.Status(code=pb.FAILED_PRECONDITION, message="node 3 was dropped")
        return [pb.Envelope(request_id=request.request_id, method=request.method, status=status).SerializeToString()]

    peer = FakePeer(answer)
    conn = Connection(client_context, peer.endpoint)
    try:
        with pytest.raises(SwiftPSError) as caught:
            conn.call(pb.HEARTBEAT, pb.HeartbeatRequest(node_id=3), timeout=5)
        error = caught.value
        assert error.code == 9 and error.code_name == "FAILED_PRECONDITION"
        assert error.status is StatusCode.FAILED_PRECONDITION
        assert error.message == "node 3 was dropped" and error.method == "Coordinator/Heartbeat"
        assert "FAILED_PRECONDITION: node 3 was dropped" in str(error)
        assert SwiftPSError(99, "?").code_name == "UNKNOWN(99)"
    finally:
        conn.close()
        peer.close()


def test_replies_match_requests_by_id_and_payloads_decode(client_context):
    def answer(request, payloads):
        if request.method == pb.PULL:  # one f16 value per key, in reverse order of frames
            keys = pb.PullRequest.FromString(request.body).keys
            reply = pb.Envelope(request_id=request.request_id, method=request.method)
            frames = []
            for i, k in enumerate(keys):
                reply.tensors.add(key=k, dtype=pb.F16, count=1, frame=len(keys) - i, version=7)
                frames.insert(0, swiftps.encode_dense([float(k)], "f16"))
            return [reply.SerializeToString()] + frames
        return None  # no answer: the caller's deadline passes

    peer = FakePeer(answer)
    conn = Connection(client_context, peer.endpoint)
    try:
        silent, pulled = call_many([(conn, pb.STATS, pb.StatsRequest(), ()),
                                    (conn, pb.PULL, pb.PullRequest(keys=[1, 2, 3], dtype=pb.F16), ())], timeout=1)
        assert isinstance(silent, SwiftPSError) and silent.code_name == "DEADLINE_EXCEEDED"
        assert [(t.key, t.version, float(swiftps.decode_dense(t.payload, t.dtype)[0])) for t in pulled.tensors] == [
            (1, 7, 1.0), (2, 7, 2.0), (3, 7, 3.0)]
        assert pulled.envelope.request_id == 2
    finally:
        conn.close()
        peer.close()


def test_malformed_reply_is_invalid_argument(client_context):
    def answer(request, payloads):
        reply = pb.Envelope(request_id=request.request_id, method=request.method)
        reply.tensors.add(key=1, dtype=pb.F32, count=2, frame=1)
        return [reply.SerializeToString(), b"\x00" * 4]  # 4 bytes for 2 f32

    peer = FakePeer(answer)
    conn = Connection(client_context, peer.endpoint)
    try:
        with pytest.raises(SwiftPSError) as caught:
            conn.call(pb.PULL, pb.PullRequest(keys=[1]), timeout=5)
        assert caught.value.code_name == "INVALID_ARGUMENT"
    finally:
        conn.close()
        peer.close()


def test_requests_carry_their_tensors(client_context):
    seen = []

    def answer(request, payloads):
        seen.append((request, payloads))
        return [pb.Envelope(request_id=request.request_id, method=request.method,
                            body=pb.AssignReply().SerializeToString()).SerializeToString()]

    peer = FakePeer(answer)
    conn = Connection(client_context, peer.endpoint)
    try:
        tensor = swiftps.transport.OutgoingTensor(key=swiftps.key(1, 0), dtype=DType.BF16, count=2,
                                                  payload=swiftps.encode_dense([1.0, 2.0], "bf16"))
        conn.call(pb.ASSIGN, pb.AssignRequest(), [tensor], timeout=5)
        request, payloads = seen[0]
        assert request.method == pb.ASSIGN and request.timeout_ms == 5000 and request.request_id == 1
        header = request.tensors[0]
        assert (header.key, header.dtype, header.count, header.frame) == (1 << 32, pb.BF16, 2, 1)
        assert payloads == [struct.pack("<2H", 0x3F80, 0x4000)]
    finally:
        conn.close()
        peer.close()
