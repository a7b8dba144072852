"""The client against the real binary: processes on 127.0.0.1, any port, always stopped at the end (see cluster.py).

a. A numpy worker (examples/numpy_mlp.py) and a Swift worker train one MLP-preset job; both end with the same final
   weights (the Python worker's ModelDigest of its final pull equals the Swift worker's model_digest).
b. A client declares a model the preset cannot make (a 3-D tensor, a weight without bias, a pushed tensor uploaded
   with Assign, a frozen tensor) with `--model client`, trains it in numpy and reaches 0.9 held-out accuracy.
"""
import math
import subprocess

import numpy as np
import pytest

import swiftps
from cluster import blob_data, save_npy_data, swiftps_bin
from swiftps import SwiftPSError

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("consistency, wire_dtype, compress", [
    ("bsp", "f32", "none"), ("async", "bf16", "none"), ("ssp:1", "f16", "none"), ("bsp", "f32", "int8"),
    ("async", "f32", "topk:0.25")])
def test_python_and_swift_workers_end_with_the_same_model(cluster, tmp_path, consistency, wire_dtype, compress):
    train, test = save_npy_data(tmp_path, inputs=16, classes=4, train=4000, test=1000, seed=7)
    cluster.start(servers=2, workers=2, job_args=[
        "--layers", "16,32,4", "--consistency", consistency, "--wire-dtype", wire_dtype, "--compress", compress,
        "--batch-size", "32", "--epochs", "2",
        "--lr", "0.05", "--chunk-elements", "100", "--seed", "3", "--train-data", train, "--test-data", test])
    python_worker = cluster.python_example("numpy_mlp.py", "python-worker")
    swift_worker = cluster.swift_worker()
    assert python_worker.wait(45) == 0, python_worker.describe()
    assert swift_worker.wait(45) == 0, swift_worker.describe()
    mine, theirs = python_worker.result(), swift_worker.result()

    assert mine["model_digest"] == theirs["model_digest"]
    assert len(mine["model_digest"]) == 16
    assert mine["last_loss"] < 0.5 * math.log(4), mine  # half the loss of a uniform guess over 4 classes
    if consistency == "bsp":  # in lockstep from the initial model (async: the Swift worker may be far ahead)
        assert mine["last_loss"] < 0.5 * mine["first_loss"], mine
    assert mine["accuracy"] >= 0.8, mine  # 4 classes: chance is 0.25
    assert theirs["accuracy"] >= 0.8, theirs
    # The job is over: the coordinator and the servers leave by themselves.
    for process in cluster.processes:
        assert process.wait(15) == 0, process.describe()


def test_a_keyed_cluster_admits_the_python_worker_and_nobody_without_keys(cluster, tmp_path):
    """With keys (CurveZMQ), a Python worker holding worker-0's key and a Swift worker holding worker-1's train one
    bsp job to the same model; a client without keys is never answered, one with a stranger's key neither."""
    keys, stranger = tmp_path / "keys", tmp_path / "stranger"
    for directory in (keys, stranger):
        subprocess.run([str(swiftps_bin()), "keygen", "--out", str(directory), "--workers", "2"], check=True,
                       stdout=subprocess.DEVNULL)
    cluster.keys = str(keys)
    train, test = save_npy_data(tmp_path, inputs=16, classes=4, train=4000, test=1000, seed=7)
    address = cluster.start(servers=2, workers=2, job_args=[
        "--layers", "16,32,4", "--consistency", "bsp", "--batch-size", "32", "--epochs", "2", "--lr", "0.05",
        "--seed", "3", "--train-data", train, "--test-data", test])
    for directory in (None, str(stranger)):
        with swiftps.Client(address, timeout=1.0, keys=directory, key="operator") as outsider:
            with pytest.raises(swiftps.SwiftPSError) as refused:
                outsider.cluster_status()
            assert refused.value.code in (swiftps.StatusCode.DEADLINE_EXCEEDED, swiftps.StatusCode.UNAVAILABLE)
    python_worker = cluster.python_example("numpy_mlp.py", "python-worker", key="worker-0")
    swift_worker = cluster.swift_worker(key="worker-1")
    assert python_worker.wait(45) == 0, python_worker.describe()
    assert swift_worker.wait(45) == 0, swift_worker.describe()
    assert python_worker.result()["model_digest"] == swift_worker.result()["model_digest"]
    assert python_worker.result()["accuracy"] >= 0.8
    for process in cluster.processes:
        assert process.wait(15) == 0, process.describe()


class HeadsModel:
    """x (16) -> x @ mix (frozen [16, 16]) -> 4 ReLU heads of 8 units (heads.weight [4, 16, 8], heads.bias [4, 8])
    -> 32 features -> out.weight [32, 3], no bias -> softmax cross-entropy (mean over the batch)."""

    space = [
        swiftps.Tensor("mix", (16, 16), init="normal:0.25", frozen=True),
        swiftps.Tensor("heads.weight", (4, 16, 8), init="pushed"),
        swiftps.Tensor("heads.bias", (4, 8), init="zeros", weight_decay=False),
        swiftps.Tensor("out.weight", (32, 3), init="xavier_uniform", lr_scale=0.5),
    ]

    @staticmethod
    def forward(p, x):
        mixed = x @ p["mix"]
        pre = np.einsum("bi,kij->bkj", mixed, p["heads.weight"]) + p["heads.bias"]
        hidden = np.maximum(pre, 0).reshape(len(x), -1)
        return mixed, pre, hidden, hidden @ p["out.weight"]

    @classmethod
    def loss_and_gradients(cls, p, x, y):
        mixed, pre, hidden, logits = cls.forward(p, x)
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        probabilities = e / e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(e.sum(axis=1)) - shifted[np.arange(len(y)), y]))
        d_logits = probabilities
        d_logits[np.arange(len(y)), y] -= 1
        d_logits /= len(y)
        d_pre = (d_logits @ p["out.weight"].T).reshape(pre.shape) * (pre > 0)
        d_mixed = np.einsum("bkj,kij->bi", d_pre, p["heads.weight"])
        grads = {"out.weight": hidden.T @ d_logits, "heads.bias": d_pre.sum(axis=0),
                 "heads.weight": np.einsum("bi,bkj->kij", mixed, d_pre), "mix": x.T @ d_mixed}
        return loss, {name: g.astype(np.float32) for name, g in grads.items()}

    @classmethod
    def accuracy(cls, p, x, y):
        return float((cls.forward(p, x)[3].argmax(axis=1) == y).mean())


def test_client_declared_model_trains_to_accuracy(cluster):
    address = cluster.start(servers=2, workers=1, job_args=[
        "--model", "client", "--optimizer", "momentum", "--lr", "0.05", "--chunk-elements", "100",
        "--batch-size", "32", "--epochs", "3", "--seed", "5"])
    rng = np.random.default_rng(11)
    train_x, train_y, centers = blob_data(rng, 16, 3, 3000)
    test_x, test_y, _ = blob_data(rng, 16, 3, 1000, centers)
    space = HeadsModel.space

    with swiftps.Client(address) as client:
        registration = client.register_worker()
        assert len(registration.job.tensors) == 0 and registration.job.plan.model == ""
        assert client.declare(space) == space
        assert client.declare(space) == space  # the space in force, declared again: OK
        with pytest.raises(SwiftPSError) as refused:
            client.declare(space[:2])
        assert refused.value.code_name == "ALREADY_EXISTS"

        smap = client.wait_for_shard_map()
        assert smap.names == [t.name for t in space]
        assert smap.chunks == swiftps.placement([t.count for t in space], 100, list(smap.servers))
        assert {c.server for c in smap.chunks_of("heads.weight")} == set(smap.servers)  # spread over both

        # The pushed tensor is not served until it is assigned; the others are.
        before = client.pull(["mix", "heads.bias", "out.weight"])  # waits while the servers build their shards
        with pytest.raises(SwiftPSError) as unassigned:
            client.pull(["heads.weight"], patience=0)
        assert unassigned.value.code_name == "UNAVAILABLE"
        heads = rng.normal(0, math.sqrt(2 / 16), size=(4, 16, 8)).astype(np.float32)
        client.assign({"heads.weight": heads}, dtype="bf16")
        params = client.pull()
        expected = swiftps.bf16_bits_to_f32(swiftps.f32_to_bf16_bits(heads)).reshape(heads.shape)
        assert np.array_equal(params["heads.weight"], expected)
        assert np.array_equal(params["mix"], before["mix"])
        # Initial values are a pure function of (seed, tensor index, element index); the client computes them too.
        for name in ("mix", "heads.bias", "out.weight"):
            index = smap.param(name)
            mine = swiftps.initial_values(space[index], seed=5, index=index)
            assert np.allclose(before[name], mine, rtol=1e-6, atol=1e-7), name
        assert 0.2 < params["mix"].std() < 0.3  # normal:0.25
        bound = math.sqrt(6 / (32 + 3))
        assert np.abs(params["out.weight"]).max() <= bound and params["out.weight"].std() > bound / 4
        assert not params["heads.bias"].any()
        assert client.pull(["out.weight"], dtype="f16")["out.weight"].dtype == np.float32

        batch, epochs = 32, 3
        steps = epochs * (len(train_x) // batch)
        losses, step = [], 0
        for _ in range(epochs):
            order = rng.permutation(len(train_x))
            for i in range(len(train_x) // batch):
                rows = order[i * batch:(i + 1) * batch]
                loss, grads = HeadsModel.loss_and_gradients(params, train_x[rows], train_y[rows])
                params = client.push_pull(grads, last=step + 1 == steps)
                losses.append(loss)
                step += 1
        client.barrier("trained")
        final = client.pull(dtype="f32")

        accuracy = HeadsModel.accuracy(final, test_x, test_y)
        assert accuracy >= 0.9, (accuracy, losses[:5], losses[-5:])
        assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
        # The frozen tensor took every push (validated, counted) and changed nothing, its version still 0.
        assert np.array_equal(final["mix"], before["mix"])
        assert all(client.versions[c.key] == 0 for c in smap.chunks_of("mix"))
        assert all(client.versions[c.key] == steps for c in smap.chunks_of("heads.weight"))
        stats = client.stats()
        assert sum(s.pushes for s in stats.values()) >= steps and set(stats) == set(smap.servers)
        # Assign sets initial values only.
        with pytest.raises(SwiftPSError) as late:
            client.assign({"heads.bias": np.zeros((4, 8), np.float32)})
        assert late.value.code_name == "FAILED_PRECONDITION"
        client.finish()

    for process in cluster.processes:
        assert process.wait(15) == 0, process.describe()


def test_params_file_space_and_initial_values(cluster, tmp_path):
    space = [
        swiftps.Tensor("w", (64, 32), init="he_normal"),
        swiftps.Tensor("v", (10,), init="normal:0.02", weight_decay=False),
        swiftps.Tensor("u", (5, 5, 2), init="uniform:-1,1", lr_scale=2.0),
        swiftps.Tensor("c", (3,), init="constant:0.5", frozen=True),
        swiftps.Tensor("o", (2,), init="ones"),
        swiftps.Tensor("x", (7, 3), init="xavier_uniform", fan_out=5),
        swiftps.Tensor("z", (4, 4), fan_in=9),
    ]
    params = tmp_path / "space.json"
    params.write_text(swiftps.space_to_json(space))
    address = cluster.start(servers=2, workers=1, job_args=["--params", params, "--chunk-elements", "64",
                                                            "--seed", "1234", "--weight-decay", "0.1"])
    with swiftps.Client(address) as client:
        registration = client.register_worker()
        assert [swiftps.Tensor.from_proto(t) for t in registration.job.tensors] == space
        assert client.declare(space) == space  # the space of the file, declared again: OK
        smap = client.wait_for_shard_map()
        values = client.pull()
        exact = total = 0
        for index, tensor in enumerate(space):
            mine = swiftps.initial_values(tensor, seed=1234, index=index)
            assert values[tensor.name].shape == tensor.shape
            assert np.allclose(values[tensor.name], mine, rtol=1e-6, atol=1e-8), tensor.name
            exact += int((values[tensor.name] == mine).sum())
            total += tensor.count
        assert exact / total > 0.99, (exact, total)
        assert len(smap.chunks) == sum(-(-t.count // 64) for t in space)

        # Per-tensor options, one plain Push (async job) of ones: momentum, lr 0.05, weight decay 0.1; the first
        # update is w - lr * lr_scale * (g + decay * w).
        grads = {name: np.ones(smap.tensor(name).shape, np.float32) for name in ("o", "v", "u", "c")}
        versions = client.push(grads)
        after = client.pull(list(grads))
        assert np.allclose(after["o"], 1 - 0.05 * (1 + 0.1 * 1))                      # decay applies
        assert np.allclose(after["v"], values["v"] - 0.05 * 1)                        # weight_decay false
        assert np.allclose(after["u"], values["u"] - 0.1 * (1 + 0.1 * values["u"]))  # lr_scale 2
        assert np.array_equal(after["c"], values["c"])                               # frozen
        frozen = {c.key for c in smap.chunks_of("c")}
        assert all(v == (0 if k in frozen else 1) for k, v in versions.items()) and len(versions) == 4
        client.finish()
    for process in cluster.processes:
        assert process.wait(15) == 0, process.describe()


def test_status_codes_of_the_protocol(cluster, tmp_path):
    """The refusals docs/protocol.md lists, as the binary answers them, through the low-level connection."""
    import zmq

    from swiftps import pb
    from swiftps.transport import Connection, OutgoingTensor

    address = cluster.start(servers=1, workers=1, job_args=["--model", "client", "--consistency", "bsp"])
    context = zmq.Context()
    coordinator = Connection(context, address)
    client = swiftps.Client(address)
    try:
        def code(conn, method, request=None, tensors=()):
            try:
                conn.call(method, request, tensors, timeout=5)
                return "OK"
            except SwiftPSError as error:
                return error.code_name

        assert code(coordinator, pb.HEARTBEAT, pb.HeartbeatRequest(node_id=999)) == "NOT_FOUND"
        assert code(coordinator, pb.BARRIER, pb.BarrierRequest(name="x", node_id=999)) == "NOT_FOUND"
        assert code(coordinator, pb.REGISTER, pb.RegisterRequest(role=pb.WORKER)) == "INVALID_ARGUMENT"  # no token
        assert code(coordinator, pb.REGISTER, pb.RegisterRequest(role=pb.SERVER, address="tcp://127.0.0.1:1",
                                                                 instance="extra")) == "FAILED_PRECONDITION"
        assert code(coordinator, pb.PULL, pb.PullRequest()) == "UNIMPLEMENTED"  # the other service's method
        assert code(coordinator, 99) == "UNIMPLEMENTED"
        payload = OutgoingTensor(1, swiftps.DType.F32, 1, b"\0\0\0\0")
        assert code(coordinator, pb.CLUSTER_STATUS, pb.ClusterStatusRequest(), [payload]) == "INVALID_ARGUMENT"
        assert code(coordinator, pb.DECLARE_TENSORS, pb.DeclareTensorsRequest()) == "INVALID_ARGUMENT"  # empty space
        assert not client.get_shard_map().ready  # not declared yet
        # Frame 0 that is not an envelope: INVALID_ARGUMENT, request id 0.
        raw = context.socket(zmq.DEALER)
        raw.setsockopt(zmq.LINGER, 0)
        raw.connect(address)
        raw.send(b"\xff\xff\xff")
        assert raw.poll(5000)
        reply = pb.Envelope.FromString(raw.recv_multipart()[0])
        assert reply.request_id == 0 and reply.status.code == pb.INVALID_ARGUMENT
        raw.close()

        worker = client.register_worker()
        client.declare([swiftps.Tensor("w", (4,), init="ones")])
        smap = client.wait_for_shard_map()
        assert client.pull()["w"].tolist() == [1, 1, 1, 1]
        server = client._server(next(iter(smap.servers)))
        key = smap.chunks[0].key
        grad = OutgoingTensor(key, swiftps.DType.F32, 4, np.ones(4, np.float32).tobytes())
        assert code(server, pb.PUSH, pb.PushRequest(), [grad]) == "FAILED_PRECONDITION"  # bsp: PushPull only
        assert code(server, pb.PULL, pb.PullRequest(keys=[key], dtype=pb.INT8)) == "INVALID_ARGUMENT"
        assert code(server, pb.PULL, pb.PullRequest(keys=[key + 1])) == "NOT_FOUND"
        assert code(server, pb.PUSH_PULL, pb.PushPullRequest(worker_rank=worker.rank), [grad, grad]) \
            == "INVALID_ARGUMENT"  # a key twice
        nan = OutgoingTensor(key, swiftps.DType.F32, 4, np.full(4, np.nan, np.float32).tobytes())
        assert code(server, pb.PUSH_PULL, pb.PushPullRequest(worker_rank=worker.rank), [nan]) == "INVALID_ARGUMENT"
        assert code(server, pb.PUSH_PULL, pb.PushPullRequest(worker_rank=worker.rank)) == "INVALID_ARGUMENT"  # empty
        assert code(server, pb.BARRIER, pb.BarrierRequest()) == "UNIMPLEMENTED"
        values = client.push_pull({"w": np.ones(4, np.float32)}, last=True)  # the only worker: its round completes
        assert client.last_clock == 0 and client.last_lag == 0
        assert np.allclose(values["w"], 1 - 0.05)  # momentum, lr 0.05, first step: w - lr * g
        assert client.versions[key] == 1
        assert code(server, pb.PUSH_PULL, pb.PushPullRequest(worker_rank=worker.rank), [grad]) \
            == "FAILED_PRECONDITION"  # after its last push
        assert code(server, pb.ASSIGN, pb.AssignRequest(), [grad]) == "FAILED_PRECONDITION"  # version 1
        client.barrier("trained")
        client.finish()
    finally:
        client.close()
        coordinator.close()
        context.term()
    for process in cluster.processes:
        assert process.wait(15) == 0, process.describe()
