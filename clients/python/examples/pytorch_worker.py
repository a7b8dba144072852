#!/usr/bin/env python3
"""A PyTorch worker: the model lives in this process, the servers hold its parameters by name.

    swiftps coordinator --bind tcp://127.0.0.1:7000 --servers 2 --workers 2 --model client \
        --train-data npy:train_x.npy,train_y.npy --test-data npy:test_x.npy,test_y.npy --lr 0.05
    swiftps server --coordinator tcp://127.0.0.1:7000 --bind tcp://127.0.0.1:0     # twice
    python pytorch_worker.py --coordinator tcp://127.0.0.1:7000                    # twice

Every worker declares the space from ``model.named_parameters()`` (same names and shapes in every worker, so the
second declaration is answered OK), with ``init: pushed``: rank 0 uploads its PyTorch initialisation with Assign,
and everyone's first pull waits until it is in. Each step the gradients of ``model.parameters()`` are pushed and the
new values pulled straight into them; the servers run the optimizer (the job's ``--optimizer``/``--lr``), so there
is no ``torch.optim`` here.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import swiftps


def build_model(inputs: int, classes: int, hidden: int = 64) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, classes))


def space_of(model: torch.nn.Module) -> list[swiftps.Tensor]:
    """One ``pushed`` tensor per parameter, in ``named_parameters()`` order (biases without weight decay)."""
    return [swiftps.Tensor(name, tuple(p.shape), init="pushed", weight_decay=not name.endswith("bias"),
                           frozen=not p.requires_grad)
            for name, p in model.named_parameters()]


def load_into(model: torch.nn.Module, values: dict) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(values[name]))


def gradients_of(model: torch.nn.Module) -> dict:
    """Every parameter's gradient as numpy (zeros where autograd left none: bsp needs every tensor each clock)."""
    return {name: (p.grad.detach().numpy() if p.grad is not None else np.zeros(tuple(p.shape), np.float32))
            for name, p in model.named_parameters()}


def emit(kind: str, record: dict) -> None:
    print(f"{kind} {json.dumps(record)}", flush=True)


def run(coordinator: str, progress_every: int = 20, keys: str | None = None, key: str = "worker") -> dict:
    torch.set_num_threads(1)
    with swiftps.Client(coordinator, keys=keys, key=key) as client:
        registration = client.register_worker()
        job, plan, rank = registration.job, registration.job.plan, registration.rank
        train_x, train_y = swiftps.load_npy_spec(plan.train_data)
        test_x, test_y = swiftps.load_npy_spec(plan.test_data)
        classes = int(max(train_y.max(), test_y.max())) + 1
        model = build_model(train_x.shape[1], classes)

        client.declare(space_of(model))  # OK again when another worker declared the same space first
        smap = client.wait_for_shard_map()
        if rank == 0:
            client.assign({name: p.detach().numpy() for name, p in model.named_parameters()})
        load_into(model, client.pull())  # waits (UNAVAILABLE is retried) until rank 0's values are in

        x = torch.from_numpy(swiftps.shard(train_x, rank, job.workers))
        y = torch.from_numpy(swiftps.shard(train_y, rank, job.workers))
        batch = plan.batch_size or 64
        steps_per_epoch = len(x) // batch
        steps = steps_per_epoch * max(1, plan.epochs)
        generator = torch.Generator().manual_seed(job.seed + rank)
        step, start = 0, time.monotonic()
        for epoch in range(max(1, plan.epochs)):
            order = torch.randperm(len(x), generator=generator)
            for i in range(steps_per_epoch):
                rows = order[i * batch:(i + 1) * batch]
                model.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x[rows]), y[rows])  # the mean over the batch
                loss.backward()
                load_into(model, client.push_pull(gradients_of(model), last=step + 1 == steps))
                step += 1
                client.progress(step, step * batch / max(1e-9, time.monotonic() - start))
                if step % progress_every == 0 or step == steps:
                    emit("progress", {"rank": rank, "step": step, "steps": steps, "epoch": epoch,
                                      "loss": float(loss)})
        client.barrier("trained")
        final = client.pull()
        load_into(model, final)
        with torch.no_grad():
            logits = model(torch.from_numpy(test_x))
            accuracy = float((logits.argmax(dim=1) == torch.from_numpy(test_y)).float().mean())
            test_loss = float(F.cross_entropy(logits, torch.from_numpy(test_y)))
        client.finish()
        return {"accuracy": accuracy, "loss": test_loss, "steps": steps, "rank": rank,
                "model_digest": swiftps.model_digest(final[name] for name in smap.names)}


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
