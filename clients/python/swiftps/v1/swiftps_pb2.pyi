from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ABORTED: StatusCode
ADAM: OptimizerKind
ALIVE: NodeState
ALREADY_EXISTS: StatusCode
ASSIGN: Method
BARRIER: Method
BF16: DType
CANCELLED: StatusCode
CLUSTER_STATUS: Method
DEAD: NodeState
DEADLINE_EXCEEDED: StatusCode
DECLARE_TENSORS: Method
DESCRIPTOR: _descriptor.FileDescriptor
DTYPE_UNSPECIFIED: DType
F16: DType
F32: DType
FAILED_PRECONDITION: StatusCode
FINISH: Method
FINISHED: NodeState
GET_SHARD_MAP: Method
HEARTBEAT: Method
INIT_CONSTANT: Initializer
INIT_HE_NORMAL: Initializer
INIT_NORMAL: Initializer
INIT_ONES: Initializer
INIT_PUSHED: Initializer
INIT_UNIFORM: Initializer
INIT_XAVIER_UNIFORM: Initializer
INIT_ZEROS: Initializer
INT8: DType
INTERNAL: StatusCode
INVALID_ARGUMENT: StatusCode
LAYOUT_DENSE: Layout
METHOD_UNSPECIFIED: Method
MOMENTUM: OptimizerKind
NODE_STATE_UNSPECIFIED: NodeState
NOT_FOUND: StatusCode
OK: StatusCode
OPTIMIZER_UNSPECIFIED: OptimizerKind
OUT_OF_RANGE: StatusCode
PERMISSION_DENIED: StatusCode
PULL: Method
PUSH: Method
PUSH_PULL: Method
REGISTER: Method
RESOURCE_EXHAUSTED: StatusCode
ROLE_UNSPECIFIED: Role
SERVER: Role
SGD: OptimizerKind
STATS: Method
TOPK: DType
UNAVAILABLE: StatusCode
UNIMPLEMENTED: StatusCode
UNKNOWN: StatusCode
WORKER: Role

class AssignReply(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class AssignRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class BarrierReply(_message.Message):
    __slots__ = ["participants"]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    participants: int
    def __init__(self, participants: _Optional[int] = ...) -> None: ...

class BarrierRequest(_message.Message):
    __slots__ = ["name", "node_id"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    node_id: int
    def __init__(self, name: _Optional[str] = ..., node_id: _Optional[int] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ["count", "key", "offset", "param", "server"]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PARAM_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    count: int
    key: int
    offset: int
    param: int
    server: int
    def __init__(self, key: _Optional[int] = ..., param: _Optional[int] = ..., offset: _Optional[int] = ..., count: _Optional[int] = ..., server: _Optional[int] = ...) -> None: ...

class ClusterStatusReply(_message.Message):
    __slots__ = ["job_finished", "nodes"]
    JOB_FINISHED_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    job_finished: bool
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ..., job_finished: bool = ...) -> None: ...

class ClusterStatusRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class DeclareTensorsReply(_message.Message):
    __slots__ = ["tensors"]
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    tensors: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    def __init__(self, tensors: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ...) -> None: ...

class DeclareTensorsRequest(_message.Message):
    __slots__ = ["tensors"]
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    tensors: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    def __init__(self, tensors: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ["body", "method", "request_id", "status", "tensors", "timeout_ms"]
    BODY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    method: Method
    request_id: int
    status: Status
    tensors: _containers.RepeatedCompositeFieldContainer[TensorHeader]
    timeout_ms: int
    def __init__(self, request_id: _Optional[int] = ..., method: _Optional[_Union[Method, str]] = ..., timeout_ms: _Optional[int] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., body: _Optional[bytes] = ..., tensors: _Optional[_Iterable[_Union[TensorHeader, _Mapping]]] = ...) -> None: ...

class FinishReply(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class FinishRequest(_message.Message):
    __slots__ = ["node_id"]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: int
    def __init__(self, node_id: _Optional[int] = ...) -> None: ...

class GetShardMapRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class HeartbeatReply(_message.Message):
    __slots__ = ["dropped_workers", "job_finished"]
    DROPPED_WORKERS_FIELD_NUMBER: _ClassVar[int]
    JOB_FINISHED_FIELD_NUMBER: _ClassVar[int]
    dropped_workers: _containers.RepeatedScalarFieldContainer[int]
    job_finished: bool
    def __init__(self, job_finished: bool = ..., dropped_workers: _Optional[_Iterable[int]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ["clock", "node_id", "samples_per_second"]
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    clock: int
    node_id: int
    samples_per_second: float
    def __init__(self, node_id: _Optional[int] = ..., clock: _Optional[int] = ..., samples_per_second: _Optional[float] = ...) -> None: ...

class JobConfig(_message.Message):
    __slots__ = ["allow_nonfinite", "chunk_elements", "consistency", "heartbeat_timeout_ms", "optimizer", "plan", "seed", "servers", "tensors", "wire_dtype", "workers"]
    ALLOW_NONFINITE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    WIRE_DTYPE_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    allow_nonfinite: bool
    chunk_elements: int
    consistency: str
    heartbeat_timeout_ms: int
    optimizer: OptimizerConfig
    plan: TrainingPlan
    seed: int
    servers: int
    tensors: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    wire_dtype: DType
    workers: int
    def __init__(self, seed: _Optional[int] = ..., optimizer: _Optional[_Union[OptimizerConfig, _Mapping]] = ..., chunk_elements: _Optional[int] = ..., servers: _Optional[int] = ..., workers: _Optional[int] = ..., heartbeat_timeout_ms: _Optional[int] = ..., allow_nonfinite: bool = ..., wire_dtype: _Optional[_Union[DType, str]] = ..., consistency: _Optional[str] = ..., tensors: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., plan: _Optional[_Union[TrainingPlan, _Mapping]] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ["address", "clock", "id", "millis_since_heartbeat", "rank", "role", "samples_per_second", "state"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MILLIS_SINCE_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    address: str
    clock: int
    id: int
    millis_since_heartbeat: int
    rank: int
    role: Role
    samples_per_second: float
    state: NodeState
    def __init__(self, id: _Optional[int] = ..., role: _Optional[_Union[Role, str]] = ..., address: _Optional[str] = ..., state: _Optional[_Union[NodeState, str]] = ..., clock: _Optional[int] = ..., millis_since_heartbeat: _Optional[int] = ..., samples_per_second: _Optional[float] = ..., rank: _Optional[int] = ...) -> None: ...

class OptimizerConfig(_message.Message):
    __slots__ = ["beta1", "beta2", "epsilon", "kind", "learning_rate", "momentum", "weight_decay"]
    BETA1_FIELD_NUMBER: _ClassVar[int]
    BETA2_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    MOMENTUM_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    beta1: float
    beta2: float
    epsilon: float
    kind: OptimizerKind
    learning_rate: float
    momentum: float
    weight_decay: float
    def __init__(self, kind: _Optional[_Union[OptimizerKind, str]] = ..., learning_rate: _Optional[float] = ..., momentum: _Optional[float] = ..., beta1: _Optional[float] = ..., beta2: _Optional[float] = ..., epsilon: _Optional[float] = ..., weight_decay: _Optional[float] = ...) -> None: ...

class PullReply(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ["dtype", "keys"]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    dtype: DType
    keys: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, keys: _Optional[_Iterable[int]] = ..., dtype: _Optional[_Union[DType, str]] = ...) -> None: ...

class PushPullReply(_message.Message):
    __slots__ = ["clock", "lag"]
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    clock: int
    lag: int
    def __init__(self, clock: _Optional[int] = ..., lag: _Optional[int] = ...) -> None: ...

class PushPullRequest(_message.Message):
    __slots__ = ["dtype", "last", "more", "worker_rank"]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    WORKER_RANK_FIELD_NUMBER: _ClassVar[int]
    dtype: DType
    last: bool
    more: bool
    worker_rank: int
    def __init__(self, dtype: _Optional[_Union[DType, str]] = ..., worker_rank: _Optional[int] = ..., last: bool = ..., more: bool = ...) -> None: ...

class PushReply(_message.Message):
    __slots__ = ["versions"]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, versions: _Optional[_Iterable[int]] = ...) -> None: ...

class PushRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class RegisterReply(_message.Message):
    __slots__ = ["job", "node_id", "rank"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    job: JobConfig
    node_id: int
    rank: int
    def __init__(self, node_id: _Optional[int] = ..., rank: _Optional[int] = ..., job: _Optional[_Union[JobConfig, _Mapping]] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ["address", "instance", "role"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    address: str
    instance: str
    role: Role
    def __init__(self, role: _Optional[_Union[Role, str]] = ..., address: _Optional[str] = ..., instance: _Optional[str] = ...) -> None: ...

class ShardMap(_message.Message):
    __slots__ = ["chunks", "ready", "servers", "tensors"]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    chunks: _containers.RepeatedCompositeFieldContainer[Chunk]
    ready: bool
    servers: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    tensors: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    def __init__(self, ready: bool = ..., servers: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ..., tensors: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., chunks: _Optional[_Iterable[_Union[Chunk, _Mapping]]] = ...) -> None: ...

class StatsReply(_message.Message):
    __slots__ = ["bytes_received", "bytes_sent", "elements", "keys", "node_id", "pulls", "pushes", "rejected"]
    BYTES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    BYTES_SENT_FIELD_NUMBER: _ClassVar[int]
    ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PULLS_FIELD_NUMBER: _ClassVar[int]
    PUSHES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    bytes_received: int
    bytes_sent: int
    elements: int
    keys: int
    node_id: int
    pulls: int
    pushes: int
    rejected: int
    def __init__(self, pushes: _Optional[int] = ..., pulls: _Optional[int] = ..., rejected: _Optional[int] = ..., bytes_received: _Optional[int] = ..., bytes_sent: _Optional[int] = ..., keys: _Optional[int] = ..., elements: _Optional[int] = ..., node_id: _Optional[int] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class Status(_message.Message):
    __slots__ = ["code", "message"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: StatusCode
    message: str
    def __init__(self, code: _Optional[_Union[StatusCode, str]] = ..., message: _Optional[str] = ...) -> None: ...

class TensorHeader(_message.Message):
    __slots__ = ["count", "dtype", "frame", "key", "version"]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    count: int
    dtype: DType
    frame: int
    key: int
    version: int
    def __init__(self, key: _Optional[int] = ..., dtype: _Optional[_Union[DType, str]] = ..., count: _Optional[int] = ..., frame: _Optional[int] = ..., version: _Optional[int] = ...) -> None: ...

class TensorSpec(_message.Message):
    __slots__ = ["fan_in", "fan_out", "frozen", "init_a", "init_b", "initializer", "layout", "lr_scale", "name", "no_weight_decay", "shape"]
    FAN_IN_FIELD_NUMBER: _ClassVar[int]
    FAN_OUT_FIELD_NUMBER: _ClassVar[int]
    FROZEN_FIELD_NUMBER: _ClassVar[int]
    INITIALIZER_FIELD_NUMBER: _ClassVar[int]
    INIT_A_FIELD_NUMBER: _ClassVar[int]
    INIT_B_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    LR_SCALE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NO_WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    fan_in: int
    fan_out: int
    frozen: bool
    init_a: float
    init_b: float
    initializer: Initializer
    layout: Layout
    lr_scale: float
    name: str
    no_weight_decay: bool
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., initializer: _Optional[_Union[Initializer, str]] = ..., init_a: _Optional[float] = ..., init_b: _Optional[float] = ..., fan_in: _Optional[int] = ..., fan_out: _Optional[int] = ..., lr_scale: _Optional[float] = ..., no_weight_decay: bool = ..., frozen: bool = ..., layout: _Optional[_Union[Layout, str]] = ...) -> None: ...

class TrainingPlan(_message.Message):
    __slots__ = ["accumulate", "batch_size", "compression", "epochs", "max_inflight", "micro_batches", "model", "test_data", "test_samples", "train_data", "train_samples"]
    ACCUMULATE_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    MAX_INFLIGHT_FIELD_NUMBER: _ClassVar[int]
    MICRO_BATCHES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEST_DATA_FIELD_NUMBER: _ClassVar[int]
    TEST_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    TRAIN_DATA_FIELD_NUMBER: _ClassVar[int]
    TRAIN_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    accumulate: int
    batch_size: int
    compression: str
    epochs: int
    max_inflight: int
    micro_batches: int
    model: str
    test_data: str
    test_samples: int
    train_data: str
    train_samples: int
    def __init__(self, model: _Optional[str] = ..., batch_size: _Optional[int] = ..., epochs: _Optional[int] = ..., train_samples: _Optional[int] = ..., test_samples: _Optional[int] = ..., accumulate: _Optional[int] = ..., compression: _Optional[str] = ..., train_data: _Optional[str] = ..., test_data: _Optional[str] = ..., micro_batches: _Optional[int] = ..., max_inflight: _Optional[int] = ...) -> None: ...

class StatusCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Method(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class NodeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Initializer(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Layout(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class OptimizerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
