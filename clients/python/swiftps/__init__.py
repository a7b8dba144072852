"""swiftps: a Python client of the swiftps parameter server (ZeroMQ + protobuf), written from docs/protocol.md."""
from .client import Client, PendingPushPull, Registration, ShardMap, request_parts
from .data import load_npy_spec, shard, shard_range
from .digest import model_digest
from .errors import StatusCode, SwiftPSError, code_name
from .space import (Chunk, Tensor, initial_values, load_space, mlp_tensors, parse_init, parse_mlp, placement,
                    space_from_json, space_to_json)
from .wire import (DType, decode_compressed, decode_dense, encode_dense, encode_int8, encode_topk, key, key_name,
                   bf16_bits_to_f32, f16_bits_to_f32, f32_to_bf16_bits, f32_to_f16_bits)
from .v1 import swiftps_pb2 as pb

Coordinator = Client  # the connection is made to the coordinator; both names work

__all__ = [
    "Client", "Coordinator", "PendingPushPull", "Registration", "ShardMap", "request_parts",
    "load_npy_spec", "shard", "shard_range", "model_digest", "StatusCode", "SwiftPSError", "code_name",
    "Chunk", "Tensor", "initial_values", "load_space", "mlp_tensors", "parse_init", "parse_mlp", "placement", "space_from_json",
    "space_to_json", "DType", "decode_compressed", "decode_dense", "encode_dense", "encode_int8", "encode_topk",
    "key", "key_name", "bf16_bits_to_f32", "f16_bits_to_f32", "f32_to_bf16_bits", "f32_to_f16_bits", "pb",
]
__version__ = "0.1.0"
