"""ModelDigest: the 64-bit FNV-1a hash of a model's fp32 values, as the Swift worker prints it (``model_digest``)."""
from __future__ import annotations

from typing import Iterable

import numpy as np

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF


def fnv1a64(data: bytes, state: int = FNV_OFFSET) -> int:
    """FNV-1a over ``data``, continuing from ``state``."""
    h = state
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & _MASK
    return h


def model_digest(tensors: Iterable) -> str:
    """16 lowercase hex digits: FNV-1a 64 over every value's 4 little-endian fp32 bytes, tensors in the order given
    (give them in parameter-space order), each tensor row-major. Equal digests mean bit-identical weights."""
    h = FNV_OFFSET
    for t in tensors:
        h = fnv1a64(np.ascontiguousarray(t, dtype=np.float32).astype("<f4", copy=False).tobytes(), h)
    return f"{h:016x}"
