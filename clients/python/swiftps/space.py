"""The parameter space: named tensors (``TensorSpec`` on the wire), their JSON form, the MLP preset, and placement.

The JSON form is the one ``swiftps coordinator --params FILE.json`` reads::

    {"tensors": [{"name": "w", "shape": [784, 10], "init": "he_normal", "fan_in": 0, "fan_out": 0,
                  "lr_scale": 1.0, "weight_decay": true, "frozen": false}]}

Only ``name`` and ``shape`` are required. Init texts: ``zeros`` (default), ``ones``, ``constant:V``, ``normal:STD``,
``uniform:A,B``, ``he_normal``, ``xavier_uniform``, ``pushed`` (uploaded with Assign).
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Iterable, Sequence

import numpy as np

from .v1 import swiftps_pb2 as pb
from .wire import key as wire_key

_SIMPLE_INITS = {
    "zeros": pb.INIT_ZEROS,
    "ones": pb.INIT_ONES,
    "he_normal": pb.INIT_HE_NORMAL,
    "xavier_uniform": pb.INIT_XAVIER_UNIFORM,
    "pushed": pb.INIT_PUSHED,
}


def _f32_text(value: float) -> str:
    """The shortest text that reads back as the same fp32 (init_a and init_b travel as fp32)."""
    return _f32_short(value) or repr(float(np.float32(value)))


def _f32_short(value: float) -> str | None:
    for digits in range(1, 10):
        text = f"{float(value):.{digits}g}"
        if np.float32(float(text)) == np.float32(value):
            return text
    return None


def parse_init(text: str) -> tuple[int, float, float]:
    """``(Initializer, init_a, init_b)`` for an init text."""
    t = text.strip().lower()
    if t in _SIMPLE_INITS:
        return _SIMPLE_INITS[t], 0.0, 0.0
    kind, _, rest = t.partition(":")
    try:
        if kind == "constant" and rest:
            value = float(rest)
            if not math.isfinite(value):
                raise ValueError
            return pb.INIT_CONSTANT, value, 0.0
        if kind == "normal" and rest:
            std = float(rest)
            if not (math.isfinite(std) and std >= 0):
                raise ValueError
            return pb.INIT_NORMAL, std, 0.0
        if kind == "uniform" and rest:
            a, b = (float(x) for x in rest.split(","))
            if not (math.isfinite(a) and math.isfinite(b) and a <= b):
                raise ValueError
            return pb.INIT_UNIFORM, a, b
    except ValueError:
        pass
    raise ValueError(f"unknown init {text!r}: zeros, ones, constant:V, normal:STD, uniform:A,B, he_normal, "
                     "xavier_uniform or pushed")


def format_init(init: int, a: float = 0.0, b: float = 0.0) -> str:
    """The init text of an ``Initializer`` and its arguments."""
    if init == pb.INIT_CONSTANT:
        return f"constant:{_f32_text(a)}"
    if init == pb.INIT_NORMAL:
        return f"normal:{_f32_text(a)}"
    if init == pb.INIT_UNIFORM:
        return f"uniform:{_f32_text(a)},{_f32_text(b)}"
    for text, value in _SIMPLE_INITS.items():
        if value == init:
            return text
    raise ValueError(f"unknown initializer {init}")


@dataclasses.dataclass(frozen=True)
class Tensor:
    """One named tensor of the parameter space (``swiftps.v1.TensorSpec``), row-major."""

    name: str
    shape: tuple[int, ...]
    init: str = "zeros"
    fan_in: int = 0
    fan_out: int = 0
    lr_scale: float = 1.0
    weight_decay: bool = True
    frozen: bool = False

    def __post_init__(self):
        shape = tuple(int(d) for d in self.shape)
        if not self.name:
            raise ValueError("a tensor needs a name")
        if not shape or any(d <= 0 for d in shape):
            raise ValueError(f"tensor {self.name!r}: shape {list(shape)} needs at least one dimension, all positive")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "init", format_init(*parse_init(self.init)))  # validated, in one spelling
        if not float(self.lr_scale) > 0:
            raise ValueError(f"tensor {self.name!r}: lr_scale must be positive (declare it frozen to keep it fixed)")
        object.__setattr__(self, "lr_scale", float(self.lr_scale))

    @property
    def count(self) -> int:
        """Elements: the product of the shape."""
        return math.prod(self.shape)

    # ---- wire -----------------------------------------------------------------------------------------------

    def to_proto(self) -> pb.TensorSpec:
        init, a, b = parse_init(self.init)
        return pb.TensorSpec(name=self.name, shape=list(self.shape), initializer=init, init_a=a, init_b=b,
                             fan_in=self.fan_in, fan_out=self.fan_out, lr_scale=self.lr_scale,
                             no_weight_decay=not self.weight_decay, frozen=self.frozen, layout=pb.LAYOUT_DENSE)

    @classmethod
    def from_proto(cls, spec: pb.TensorSpec) -> "Tensor":
        return cls(name=spec.name, shape=tuple(spec.shape),
                   init=format_init(spec.initializer, spec.init_a, spec.init_b),
                   fan_in=spec.fan_in, fan_out=spec.fan_out, lr_scale=float(_f32_text(spec.lr_scale or 1.0)),
                   weight_decay=not spec.no_weight_decay, frozen=spec.frozen)

    # ---- JSON -----------------------------------------------------------------------------------------------

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "init": self.init, "fan_in": self.fan_in,
                "fan_out": self.fan_out, "lr_scale": self.lr_scale, "weight_decay": self.weight_decay,
                "frozen": self.frozen}

    @classmethod
    def from_json(cls, obj: dict) -> "Tensor":
        unknown = set(obj) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"tensor {obj.get('name')!r}: unknown fields {sorted(unknown)}")
        if "name" not in obj or "shape" not in obj:
            raise ValueError(f"a tensor needs a name and a shape: {obj}")
        return cls(**{**obj, "shape": tuple(obj["shape"])})


def space_to_json(tensors: Iterable[Tensor]) -> str:
    """The ``--params`` JSON text of a parameter space."""
    return json.dumps({"tensors": [t.to_json() for t in tensors]}, indent=2)


def space_from_json(text: str | dict) -> list[Tensor]:
    """A parameter space from ``--params`` JSON (text or an already parsed object)."""
    obj = json.loads(text) if isinstance(text, str) else text
    tensors = [Tensor.from_json(t) for t in obj["tensors"]]
    names = [t.name for t in tensors]
    if len(set(names)) != len(names):
        raise ValueError("tensor names must be unique")
    return tensors


def load_space(path: str) -> list[Tensor]:
    with open(path, encoding="utf-8") as f:
        return space_from_json(f.read())


def as_tensors(tensors: Iterable) -> list[Tensor]:
    """Accepts ``Tensor``s, ``TensorSpec`` protos or JSON dicts."""
    out = []
    for t in tensors:
        if isinstance(t, Tensor):
            out.append(t)
        elif isinstance(t, pb.TensorSpec):
            out.append(Tensor.from_proto(t))
        elif isinstance(t, dict):
            out.append(Tensor.from_json(t))
        else:
            raise TypeError(f"not a tensor spec: {t!r}")
    return out


# ---- the MLP preset ---------------------------------------------------------------------------------------------

def parse_mlp(model: str) -> list[int]:
    """Layer sizes of a plan's model text ``mlp:IN,HIDDEN...,CLASSES``."""
    kind, _, sizes = model.partition(":")
    if kind != "mlp" or not sizes:
        raise ValueError(f"not an MLP model: {model!r}")
    layers = [int(s) for s in sizes.split(",")]
    if len(layers) < 2 or any(s <= 0 for s in layers):
        raise ValueError(f"bad layer sizes in {model!r}")
    return layers


def mlp_tensors(layer_sizes: Sequence[int]) -> list[Tensor]:
    """The space of ``--layers``: per layer ``layers.{i}.weight`` [in, out] (He normal) and ``layers.{i}.bias``
    [out] (zeros, no weight decay)."""
    tensors = []
    for i in range(len(layer_sizes) - 1):
        fan_in, fan_out = int(layer_sizes[i]), int(layer_sizes[i + 1])
        tensors.append(Tensor(f"layers.{i}.weight", (fan_in, fan_out), init="he_normal"))
        tensors.append(Tensor(f"layers.{i}.bias", (fan_out,), init="zeros", weight_decay=False))
    return tensors


# ---- placement --------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Chunk:
    """A contiguous piece of one tensor: one wire key, one server (``swiftps.v1.Chunk``)."""

    key: int
    param: int
    offset: int
    count: int
    server: int

    @classmethod
    def from_proto(cls, c: pb.Chunk) -> "Chunk":
        return cls(key=c.key, param=c.param, offset=c.offset, count=c.count, server=c.server)


def placement(counts: Sequence[int], chunk_elements: int, servers: Sequence[int]) -> list[Chunk]:
    """What the coordinator computes: each tensor (element counts in space order) cut into chunks of at most
    ``chunk_elements``, each chunk to the least-loaded server so far (ties to the lower node id)."""
    if chunk_elements <= 0 or not servers:
        raise ValueError("placement needs a positive chunk size and a server")
    ids = sorted(servers)
    load = [0] * len(ids)
    chunks = []
    for param, count in enumerate(counts):
        offset = index = 0
        while True:
            n = min(chunk_elements, count - offset)
            target = min(range(len(ids)), key=lambda s: (load[s], s))
            load[target] += n
            chunks.append(Chunk(wire_key(param, index), param, offset, n, ids[target]))
            offset += n
            index += 1
            if offset >= count:
                break
    return chunks


# ---- initial values ---------------------------------------------------------------------------------------------

def _mix(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser, over uint64 arrays (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _unit(bits: np.ndarray) -> np.ndarray:
    """A uniform double in (0, 1) from the top 53 bits."""
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def fans(tensor: Tensor) -> tuple[int, int]:
    """Fan-in and fan-out of He/Xavier: the explicit ones, else shape[0] and shape[1] (1 for a 1-D tensor)."""
    return (tensor.fan_in or tensor.shape[0],
            tensor.fan_out or (tensor.shape[1] if len(tensor.shape) > 1 else 1))


def initial_values(tensor: Tensor, seed: int, index: int) -> np.ndarray:
    """The values a server starts tensor number ``index`` of the space with (job seed ``seed``), as the servers
    compute them: element i is a function of (seed, index, i) only (SplitMix64 counters; docs/protocol.md). A
    ``pushed`` tensor starts at zero until assigned. The normal initialisers use log and cos, so a libm other than
    the servers' may differ in the last bit of a few elements."""
    init, a, b = parse_init(tensor.init)
    n = tensor.count
    with np.errstate(over="ignore"):
        stream = _mix(np.array([(seed + 0x9E3779B97F4A7C15 * (index + 1)) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
    i = np.arange(n, dtype=np.uint64)

    def normal(std: float) -> np.ndarray:
        with np.errstate(over="ignore"):
            u1 = _unit(_mix(stream ^ _mix(i * np.uint64(2) + np.uint64(1))))
            u2 = _unit(_mix(stream ^ _mix(i * np.uint64(2) + np.uint64(2))))
        return (std * (np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2))).astype(np.float32)

    def uniform(low: float, high: float) -> np.ndarray:
        return (low + (high - low) * _unit(_mix(stream ^ _mix(i)))).astype(np.float32)

    f32 = lambda v: float(np.float32(v))  # noqa: E731 (init_a/init_b travel as fp32)
    if init in (pb.INIT_ZEROS, pb.INIT_PUSHED):
        out = np.zeros(n, np.float32)
    elif init == pb.INIT_ONES:
        out = np.ones(n, np.float32)
    elif init == pb.INIT_CONSTANT:
        out = np.full(n, f32(a), np.float32)
    elif init == pb.INIT_NORMAL:
        out = normal(f32(a))
    elif init == pb.INIT_UNIFORM:
        out = uniform(f32(a), f32(b))
    elif init == pb.INIT_HE_NORMAL:
        out = normal(math.sqrt(2.0 / fans(tensor)[0]))
    elif init == pb.INIT_XAVIER_UNIFORM:
        bound = math.sqrt(6.0 / sum(fans(tensor)))
        out = uniform(-bound, bound)
    else:
        raise ValueError(f"unknown initializer {init}")
    return out.reshape(tensor.shape)
