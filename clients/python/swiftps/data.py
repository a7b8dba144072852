"""How a job's data is split among workers, and the data specs of a TrainingPlan."""
from __future__ import annotations

import numpy as np


def shard_range(count: int, rank: int, workers: int) -> tuple[int, int]:
    """``[start, end)`` of rank ``rank``'s part of ``count`` samples among ``workers``: contiguous parts covering
    every sample once, the first ``count % workers`` parts one sample larger. A rank at or above ``workers`` (a
    worker that joined a running job) trains on the part of ``rank % workers``."""
    if workers <= 0 or rank < 0:
        raise ValueError("workers must be positive and rank non-negative")
    r = rank % workers
    base, extra = divmod(count, workers)
    start = r * base + min(r, extra)
    return start, start + base + (1 if r < extra else 0)


def shard(array, rank: int, workers: int):
    """Rank ``rank``'s part of ``array`` (split along its first axis)."""
    start, end = shard_range(len(array), rank, workers)
    return array[start:end]


def load_npy_spec(spec: str) -> tuple[np.ndarray, np.ndarray]:
    """Features (float32, 2-D; uint8 scaled to [0, 1] as the Swift loader does) and labels (int64) of a data spec
    ``npy:FEATURES,LABELS``."""
    kind, _, rest = spec.partition(":")
    if kind.lower() != "npy" or rest.count(",") != 1:
        raise ValueError(f"only npy:FEATURES,LABELS data specs are read here, not {spec!r}")
    features_path, labels_path = rest.split(",")
    features = np.load(features_path, allow_pickle=False)
    labels = np.load(labels_path, allow_pickle=False)
    if features.ndim != 2 or labels.ndim != 1 or len(features) != len(labels):
        raise ValueError(f"{spec}: features must be (N, D) and labels (N,)")
    if features.dtype == np.uint8:
        features = features.astype(np.float32) / np.float32(255)
    return features.astype(np.float32, copy=False), labels.astype(np.int64)
