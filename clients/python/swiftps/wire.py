"""Payload encodings of the wire (docs/protocol.md, "Tensor payloads") and the key scheme.

Every payload is little-endian. Dense dtypes (pushes, pulls, assigns): F32 (4 bytes an element), BF16 (the upper 16
bits of the fp32, rounded to nearest even), F16 (IEEE binary16, rounded to nearest even). Compressed dtypes (pushes
only): INT8 (one fp32 scale, then one signed byte per element: value = byte * scale) and TOPK (k pairs of uint32
index and fp32 value; the other elements are zero).
"""
from __future__ import annotations

import enum
import math

import numpy as np


class DType(enum.IntEnum):
    """Payload dtypes, numbered as ``swiftps.v1.DType``."""

    F32 = 1
    BF16 = 2
    F16 = 3
    INT8 = 4
    TOPK = 5

    @classmethod
    def parse(cls, value: "DType | int | str | None", default: "DType" = None) -> "DType":
        """A dtype from a DType, its number or its name (``"f32"``, ``"bf16"``, ``"f16"``, ``"int8"``, ``"topk"``);
        None (or 0, unspecified on the wire) gives ``default`` (F32 when none)."""
        if value is None or (isinstance(value, int) and value == 0):
            return default if default is not None else cls.F32
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                raise ValueError(f"unknown dtype {value!r}: f32, bf16, f16, int8 or topk") from None
        return cls(int(value))

    @property
    def is_dense(self) -> bool:
        return self in (DType.F32, DType.BF16, DType.F16)

    @property
    def width(self) -> int:
        """Bytes per element of a dense dtype."""
        return {DType.F32: 4, DType.BF16: 2, DType.F16: 2}[self]


DENSE = (DType.F32, DType.BF16, DType.F16)


def key(param: int, chunk: int) -> int:
    """The wire key of chunk ``chunk`` of tensor ``param`` (its index in the parameter space)."""
    if not (0 <= param < 1 << 32 and 0 <= chunk < 1 << 32):
        raise ValueError(f"tensor {param} / chunk {chunk} outside 32 bits")
    return param << 32 | chunk


def key_name(k: int) -> str:
    """``param:chunk``, as the servers' messages show keys."""
    return f"{k >> 32}:{k & 0xFFFFFFFF}"


def accepts(dtype: DType, byte_count: int, count: int) -> bool:
    """Whether a payload of ``byte_count`` bytes is well formed for ``count`` elements of ``dtype``."""
    if dtype in DENSE:
        return byte_count == count * dtype.width
    if dtype == DType.INT8:
        return byte_count == 4 + count
    if dtype == DType.TOPK:
        return byte_count > 0 and byte_count % 8 == 0 and byte_count // 8 <= count
    return False


# ---- bf16 -------------------------------------------------------------------------------------------------------

def f32_to_bf16_bits(values) -> np.ndarray:
    """fp32 -> bf16 bit patterns (uint16): round to nearest even; a NaN keeps its sign and gets the quiet bit; values
    that round past the largest bf16 become +-Inf."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    is_nan = (bits & 0x7FFFFFFF) > 0x7F800000
    bias = np.where(is_nan, 0, 0x7FFF + ((bits >> 16) & 1)).astype(np.uint32)
    quieted = np.where(is_nan, bits | 0x00400000, bits).astype(np.uint32)
    return ((quieted + bias) >> 16).astype(np.uint16)


def bf16_bits_to_f32(bits) -> np.ndarray:
    """bf16 bit patterns -> fp32 (exact: the bits become the upper half)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


# ---- f16 --------------------------------------------------------------------------------------------------------

def f32_to_f16_bits(values) -> np.ndarray:
    """fp32 -> IEEE binary16 bit patterns: round to nearest even, subnormals, overflow to +-Inf; every NaN becomes
    the canonical quiet NaN 0x7E00 with its sign."""
    v = np.ascontiguousarray(values, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        half = v.astype(np.float16).view(np.uint16)
    nan = np.isnan(v)
    if nan.any():
        sign = ((v.view(np.uint32) >> 16) & 0x8000).astype(np.uint16)
        half = np.where(nan, sign | np.uint16(0x7E00), half).astype(np.uint16)
    return half


def f16_bits_to_f32(bits) -> np.ndarray:
    """binary16 bit patterns -> fp32 (exact; a NaN keeps its payload and gets the quiet bit)."""
    b = np.asarray(bits, dtype=np.uint16)
    out = b.view(np.float16).astype(np.float32)
    nan = (b & 0x7FFF) > 0x7C00
    if nan.any():
        out = np.where(nan, (out.view(np.uint32) | np.uint32(0x00400000)).view(np.float32), out).astype(np.float32)
    return out


# ---- dense payloads ---------------------------------------------------------------------------------------------

def encode_dense(values, dtype: DType) -> bytes:
    """The payload of ``values`` (any shape, flattened row-major) in a dense dtype."""
    dtype = DType.parse(dtype)
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    if dtype == DType.F32:
        return flat.astype("<f4", copy=False).tobytes()
    if dtype == DType.BF16:
        return f32_to_bf16_bits(flat).astype("<u2", copy=False).tobytes()
    if dtype == DType.F16:
        return f32_to_f16_bits(flat).astype("<u2", copy=False).tobytes()
    raise ValueError(f"{dtype.name} is not a dense dtype")


def decode_dense(payload, dtype: DType, count: int | None = None) -> np.ndarray:
    """A dense payload as a new float32 array."""
    dtype = DType.parse(dtype)
    buf = memoryview(payload).cast("B")
    if dtype == DType.F32:
        out = np.frombuffer(buf, dtype="<f4").astype(np.float32)
    elif dtype == DType.BF16:
        out = bf16_bits_to_f32(np.frombuffer(buf, dtype="<u2"))
    elif dtype == DType.F16:
        out = f16_bits_to_f32(np.frombuffer(buf, dtype="<u2"))
    else:
        raise ValueError(f"{dtype.name} is not a dense dtype")
    if count is not None and out.size != count:
        raise ValueError(f"a {dtype.name} payload of {len(buf)} bytes is not {count} elements")
    return out


# ---- compressed pushes ------------------------------------------------------------------------------------------

def topk_count(fraction: float, count: int) -> int:
    """Elements a top-k payload of a ``count``-element tensor carries: ceil(count * fraction), within 1..count."""
    return max(1, min(count, int(math.ceil(count * fraction))))


def encode_int8(values) -> tuple[bytes, np.ndarray]:
    """An INT8 payload (fp32 scale = max|x| / 127, then round(x / scale) clamped to +-127, ties away from zero) and
    the residual ``x - decoded`` that error feedback adds to the next gradient."""
    x = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    largest = np.float32(np.max(np.abs(x))) if x.size else np.float32(0)
    scale = np.float32(largest / np.float32(127))
    inverse = np.float32(1) / scale if scale > 0 else np.float32(0)
    scaled = (x * inverse).astype(np.float64)
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    q = np.clip(rounded, -127, 127).astype(np.int8)
    residual = (x - q.astype(np.float32) * scale).astype(np.float32)
    return np.float32(scale).astype("<f4").tobytes() + q.tobytes(), residual


def encode_topk(values, fraction: float) -> tuple[bytes, np.ndarray]:
    """A TOPK payload: the ``topk_count(fraction, n)`` largest magnitudes (ties to the lower index), as (uint32
    index, fp32 value) pairs in index order; and the residual (the elements not sent)."""
    x = np.ascontiguousarray(values, dtype=np.float32).reshape(-1).copy()
    k = topk_count(fraction, x.size)
    order = np.argsort(-np.abs(x), kind="stable")[:k]
    chosen = np.sort(order)
    pairs = np.zeros(k, dtype=[("index", "<u4"), ("value", "<f4")])
    pairs["index"] = chosen
    pairs["value"] = x[chosen]
    x[chosen] = 0
    return pairs.tobytes(), x


def decode_compressed(payload, dtype: DType, count: int) -> np.ndarray:
    """A payload of any dtype as ``count`` float32 values (what a server adds up)."""
    dtype = DType.parse(dtype)
    buf = memoryview(payload).cast("B")
    if not accepts(dtype, len(buf), count):
        raise ValueError(f"{dtype.name} payload of {len(buf)} bytes for {count} elements")
    if dtype.is_dense:
        return decode_dense(buf, dtype, count)
    if dtype == DType.INT8:
        scale = np.frombuffer(buf[:4], dtype="<f4")[0]
        return (np.frombuffer(buf[4:], dtype=np.int8).astype(np.float32) * scale).astype(np.float32)
    pairs = np.frombuffer(buf, dtype=[("index", "<u4"), ("value", "<f4")])
    out = np.zeros(count, dtype=np.float32)
    if pairs.size and int(pairs["index"].max()) >= count:
        raise ValueError("top-k index outside the tensor")
    np.add.at(out, pairs["index"].astype(np.int64), pairs["value"].astype(np.float32))
    return out

