#!/usr/bin/env python3
"""A numpy worker for swiftps's MLP preset: it trains in the same job as Swift workers, on its own part of the data.

    swiftps coordinator --bind tcp://127.0.0.1:7000 --servers 1 --workers 2 --layers 16,32,4 \
        --train-data npy:train_x.npy,train_y.npy --test-data npy:test_x.npy,test_y.npy
    swiftps server --coordinator tcp://127.0.0.1:7000 --bind tcp://127.0.0.1:0
    swiftps worker --coordinator tcp://127.0.0.1:7000
    python numpy_mlp.py --coordinator tcp://127.0.0.1:7000

The model is the preset's: per layer ``layers.{i}.weight`` [in, out] row-major and ``layers.{i}.bias`` [out]; ReLU
on hidden layers, softmax cross-entropy on the last; gradients are of the mean loss over the batch (over
``accumulate`` mini-batches, their mean), as the Swift worker pushes them, compressed as the plan says. Prints ``progress {json}`` lines and a
final ``result {json}`` line whose ``model_digest`` equals the Swift workers' when all trained the same job.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

import swiftps


class MLP:
    """Forward and backward of the preset over numpy arrays; ``params`` is {name: array} as pulled."""

    def __init__(self, layer_sizes):
        self.sizes = list(layer_sizes)
        self.layers = len(self.sizes) - 1

    def names(self):
        return [n for i in range(self.layers) for n in (f"layers.{i}.weight", f"layers.{i}.bias")]

    def forward(self, params, x):
        """Activations of every layer (the input first) and the last layer's logits."""
        activations = [x]
        a = x
        for i in range(self.layers):
            z = a @ params[f"layers.{i}.weight"] + params[f"layers.{i}.bias"]
            if i < self.layers - 1:
                a = np.maximum(z, 0)
                activations.append(a)
            else:
                return activations, z

    @staticmethod
    def softmax_cross_entropy(logits, labels):
        """Mean loss, probabilities, and correct predictions (first largest logit)."""
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        rows = np.arange(len(labels))
        losses = np.log(total[:, 0]) - shifted[rows, labels]
        correct = int((logits.argmax(axis=1) == labels).sum())
        return float(losses.mean()), e / total, correct

    def loss_and_gradients(self, params, x, labels):
        activations, logits = self.forward(params, x)
        loss, p, _ = self.softmax_cross_entropy(logits, labels)
        dz = p
        dz[np.arange(len(labels)), labels] -= 1
        dz /= len(labels)
        grads = {}
        for i in reversed(range(self.layers)):
            a = activations[i]
            grads[f"layers.{i}.weight"] = (a.T @ dz).astype(np.float32)
            grads[f"layers.{i}.bias"] = dz.sum(axis=0).astype(np.float32)
            if i > 0:
                dz = (dz @ params[f"layers.{i}.weight"].T) * (a > 0)
        return loss, grads

    def evaluate(self, params, x, labels, batch=1024):
        loss_sum, correct = 0.0, 0
        for start in range(0, len(x), batch):
            xb, yb = x[start:start + batch], labels[start:start + batch]
            _, logits = self.forward(params, xb)
            loss, _, hits = self.softmax_cross_entropy(logits, yb)
            loss_sum += loss * len(yb)
            correct += hits
        return loss_sum / max(1, len(x)), correct / max(1, len(x))


def layer_sizes(client: swiftps.Client) -> list[int]:
    """From the plan's model (``mlp:16,32,4``), or else from the shapes of the space's ``layers.{i}.weight``."""
    if client.job.plan.model.startswith("mlp:"):
        return swiftps.parse_mlp(client.job.plan.model)
    smap = client.shard_map
    sizes, i = [], 0
    while f"layers.{i}.weight" in smap.index:
        rows, cols = smap.tensor(f"layers.{i}.weight").shape
        sizes = sizes or [rows]
        sizes.append(cols)
        i += 1
    if len(sizes) < 2:
        raise SystemExit("the job's space is not the MLP preset (no layers.{i}.weight)")
    return sizes


def emit(kind: str, record: dict) -> None:
    print(f"{kind} {json.dumps(record)}", flush=True)


def run(coordinator: str, progress_every: int = 20, keys: str | None = None, key: str = "worker") -> dict:
    with swiftps.Client(coordinator, keys=keys, key=key) as client:
        registration = client.register_worker()
        job, plan, rank = registration.job, registration.job.plan, registration.rank
        smap = client.wait_for_shard_map()
        model = MLP(layer_sizes(client))
        if not plan.train_data or not plan.test_data:
            raise SystemExit("this example reads npy:FEATURES,LABELS data (--train-data/--test-data); the "
                             "built-in teacher task is the Swift worker's")
        train_x, train_y = swiftps.load_npy_spec(plan.train_data)
        test_x, test_y = swiftps.load_npy_spec(plan.test_data)
        x, y = swiftps.shard(train_x, rank, job.workers), swiftps.shard(train_y, rank, job.workers)
        batch = plan.batch_size or 64
        accumulate = max(1, plan.accumulate)
        pushes_per_epoch = (len(x) // batch) // accumulate
        steps = pushes_per_epoch * max(1, plan.epochs)
        if steps == 0:
            raise SystemExit(f"rank {rank}: {len(x)} samples, fewer than one push of {accumulate} x {batch}")

        compression = plan.compression if plan.compression not in ("", "none") else None  # int8, topk:F
        params = client.pull()  # the first pull waits while the servers build their shards
        rng = np.random.default_rng([job.seed, rank])
        losses, step, start = [], 0, time.monotonic()
        for epoch in range(max(1, plan.epochs)):
            order = rng.permutation(len(x))
            for push in range(pushes_per_epoch):
                grads = {name: np.zeros(smap.tensor(name).shape, np.float32) for name in model.names()}
                loss = 0.0
                for part in range(accumulate):
                    rows = order[(push * accumulate + part) * batch:][:batch]
                    part_loss, part_grads = model.loss_and_gradients(params, x[rows], y[rows])
                    loss += part_loss / accumulate
                    for name, g in part_grads.items():
                        grads[name] += g / accumulate
                params = client.push_pull(grads, last=step + 1 == steps, compression=compression)
                step += 1
                losses.append(loss)
                rate = step * batch * accumulate / max(1e-9, time.monotonic() - start)
                client.progress(step, rate)
                if step % progress_every == 0 or step == steps:
                    emit("progress", {"rank": rank, "step": step, "steps": steps, "epoch": epoch, "loss": loss,
                                      "samples_per_second": rate})
        client.barrier("trained")  # every worker's last push is in before anyone reads the final model
        final = client.pull()
        digest = swiftps.model_digest(final[name] for name in smap.names)
        test_loss, accuracy = model.evaluate(final, test_x, test_y)
        client.finish()
        window = max(1, min(10, len(losses) // 4))
        return {"accuracy": accuracy, "loss": test_loss, "steps": steps, "rank": rank,
                "node_id": registration.node_id, "first_loss": float(np.mean(losses[:window])),
                "last_loss": float(np.mean(losses[-window:])), "model_digest": digest}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coordinator", default=os.environ.get("SWIFTPS_COORDINATOR", ""),
                        help="coordinator address, tcp://HOST:PORT (env SWIFTPS_COORDINATOR)")
    parser.add_argument("--progress-every", type=int, default=20)
    parser.add_argument("--keys", default=os.environ.get("SWIFTPS_KEYS") or None,
                        help="key directory of a keyed cluster (swiftps keygen; env SWIFTPS_KEYS)")
    parser.add_argument("--key", default=os.environ.get("SWIFTPS_KEY") or "worker",
                        help="the client key to connect with (default worker; env SWIFTPS_KEY)")
    args = parser.parse_args(argv)
    if not args.coordinator:
        parser.error("--coordinator is required")
    emit("result", run(args.coordinator, args.progress_every, args.keys, args.key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
