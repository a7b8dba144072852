import SwiftPSCore

/// Every rpc of the Coordinator and ParameterServer services, as named in an envelope.
public enum Method: Int, Sendable, CaseIterable, CustomStringConvertible {
    case register = 1
    case heartbeat = 2
    case getShardMap = 3
    case barrier = 4
    case finish = 5
    case clusterStatus = 6
    case declareTensors = 7
    case push = 10
    case pull = 11
    case pushPull = 12
    case stats = 13
    case assign = 14

    public var description: String {
        switch self {
        case .register: "Coordinator/Register"
        case .heartbeat: "Coordinator/Heartbeat"
        case .getShardMap: "Coordinator/GetShardMap"
        case .barrier: "Coordinator/Barrier"
        case .finish: "Coordinator/Finish"
        case .clusterStatus: "Coordinator/ClusterStatus"
        case .declareTensors: "Coordinator/DeclareTensors"
        case .push: "ParameterServer/Push"
        case .pull: "ParameterServer/Pull"
        case .pushPull: "ParameterServer/PushPull"
        case .stats: "ParameterServer/Stats"
        case .assign: "ParameterServer/Assign"
        }
    }
}

/// Describes one payload frame of a message.
public struct TensorHeader: Sendable, Equatable {
    public var key: UInt64
    /// The raw dtype number; see `dtype` (nil when unknown or unspecified).
    public var dtypeRaw: Int
    public var count: UInt64
    /// Index of the payload frame, 1-based: frame 0 is the envelope.
    public var frame: UInt32
    public var version: UInt64

    public init(key: UInt64, dtype: DType, count: Int, frame: Int, version: UInt64 = 0) {
        self.init(key: key, dtypeRaw: dtype.rawValue, count: UInt64(count), frame: UInt32(frame), version: version)
    }

    public init(key: UInt64, dtypeRaw: Int, count: UInt64, frame: UInt32, version: UInt64) {
        self.key = key
        self.dtypeRaw = dtypeRaw
        self.count = count
        self.frame = frame
        self.version = version
    }

    public var dtype: DType? { DType(rawValue: dtypeRaw) }
}

/// Frame 0 of every message: which rpc, which request, the status (replies), the rpc's message and the payloads.
public struct Envelope: Sendable, Equatable {
    public var requestID: UInt64
    /// The raw method number; see `method` (nil when unknown).
    public var methodRaw: Int
    public var timeoutMs: UInt32
    public var status: StatusCode
    public var statusMessage: String
    public var body: [UInt8]
    public var tensors: [TensorHeader]

    public init(requestID: UInt64, method: Method, timeoutMs: UInt32 = 0, status: StatusCode = .ok,
                statusMessage: String = "", body: [UInt8] = [], tensors: [TensorHeader] = []) {
        self.init(requestID: requestID, methodRaw: method.rawValue, timeoutMs: timeoutMs, status: status,
                  statusMessage: statusMessage, body: body, tensors: tensors)
    }

    public init(requestID: UInt64, methodRaw: Int, timeoutMs: UInt32, status: StatusCode, statusMessage: String,
                body: [UInt8], tensors: [TensorHeader]) {
        self.requestID = requestID
        self.methodRaw = methodRaw
        self.timeoutMs = timeoutMs
        self.status = status
        self.statusMessage = statusMessage
        self.body = body
        self.tensors = tensors
    }

    public var method: Method? { Method(rawValue: methodRaw) }
}

/// A message that travels in an envelope's body.
public protocol WireMessage: Sendable {
    func encoded() -> [UInt8]
    init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError)
}

extension WireMessage {
    public init(decoding bytes: [UInt8]) throws(SwiftPSError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(SwiftPSError) -> Self in try Self(decoding: raw) } }
        self = try result.get()
    }
}

/// A node's role in the job.
public enum Role: Int, Sendable, CustomStringConvertible {
    case server = 1
    case worker = 2

    public var description: String { self == .server ? "server" : "worker" }
}

/// A node's state as the coordinator sees it.
public enum NodeState: Int, Sendable, CustomStringConvertible {
    case alive = 1
    case finished = 2
    case dead = 3

    public var description: String {
        switch self {
        case .alive: "alive"
        case .finished: "finished"
        case .dead: "dead"
        }
    }
}

/// One member of the cluster, as the coordinator reports it.
public struct NodeInfo: Sendable, Equatable {
    public var id: UInt32
    public var role: Role
    public var address: String
    public var state: NodeState
    public var clock: UInt64
    public var millisSinceHeartbeat: UInt32
    public var samplesPerSecond: Double
    public var rank: UInt32

    public init(id: UInt32, role: Role, address: String, state: NodeState = .alive, clock: UInt64 = 0,
                millisSinceHeartbeat: UInt32 = 0, samplesPerSecond: Double = 0, rank: UInt32 = 0) {
        self.id = id
        self.role = role
        self.address = address
        self.state = state
        self.clock = clock
        self.millisSinceHeartbeat = millisSinceHeartbeat
        self.samplesPerSecond = samplesPerSecond
        self.rank = rank
    }
}

public struct RegisterRequest: Equatable, Sendable {
    public var role: Role
    public var address: String
    public var instance: String

    public init(role: Role, address: String, instance: String) {
        self.role = role
        self.address = address
        self.instance = instance
    }
}

public struct RegisterReply: Equatable, Sendable {
    public var nodeID: UInt32
    public var rank: UInt32
    public var job: JobConfig

    public init(nodeID: UInt32, rank: UInt32, job: JobConfig) {
        self.nodeID = nodeID
        self.rank = rank
        self.job = job
    }
}

public struct HeartbeatRequest: Equatable, Sendable {
    public var nodeID: UInt32
    public var clock: UInt64
    public var samplesPerSecond: Double

    public init(nodeID: UInt32, clock: UInt64 = 0, samplesPerSecond: Double = 0) {
        self.nodeID = nodeID
        self.clock = clock
        self.samplesPerSecond = samplesPerSecond
    }
}

public struct HeartbeatReply: Equatable, Sendable {
    public var jobFinished: Bool
    /// Ranks of workers marked dead; servers stop waiting for their clocks.
    public var droppedWorkers: [UInt32]
    public init(jobFinished: Bool, droppedWorkers: [UInt32] = []) {
        self.jobFinished = jobFinished
        self.droppedWorkers = droppedWorkers
    }
}

/// The placement of every chunk; `ready` is false until every expected server has registered and the parameter
/// space is declared.
public struct ShardMap: Equatable, Sendable {
    public var ready: Bool
    public var servers: [NodeInfo]
    public var tensors: [TensorSpec]
    public var chunks: [Chunk]

    public init(ready: Bool, servers: [NodeInfo] = [], tensors: [TensorSpec] = [], chunks: [Chunk] = []) {
        self.ready = ready
        self.servers = servers
        self.tensors = tensors
        self.chunks = chunks
    }
}

/// Declares a parameter space (a request), or the space in force (its reply).
public struct DeclareTensors: Equatable, Sendable {
    public var tensors: [TensorSpec]
    public init(tensors: [TensorSpec]) { self.tensors = tensors }
}

public struct BarrierRequest: Equatable, Sendable {
    public var name: String
    public var nodeID: UInt32
    public init(name: String, nodeID: UInt32) {
        self.name = name
        self.nodeID = nodeID
    }
}

public struct BarrierReply: Equatable, Sendable {
    public var participants: UInt32
    public init(participants: UInt32) { self.participants = participants }
}

public struct FinishRequest: Equatable, Sendable {
    public var nodeID: UInt32
    public init(nodeID: UInt32) { self.nodeID = nodeID }
}

public struct ClusterStatusReply: Equatable, Sendable {
    public var nodes: [NodeInfo]
    public var jobFinished: Bool
    public init(nodes: [NodeInfo], jobFinished: Bool) {
        self.nodes = nodes
        self.jobFinished = jobFinished
    }
}

public struct PushReply: Equatable, Sendable {
    public var versions: [UInt64]
    public init(versions: [UInt64]) { self.versions = versions }
}

public struct PullRequest: Equatable, Sendable {
    public var keys: [UInt64]
    public var dtype: DType
    public init(keys: [UInt64], dtype: DType = .f32) {
        self.keys = keys
        self.dtype = dtype
    }
}

public struct PushPullRequest: Equatable, Sendable {
    public var dtype: DType
    /// Whose clock the push advances.
    public var workerRank: UInt32
    /// The worker's final push: it leaves the clocks after it.
    public var last: Bool
    /// More pushes of this clock follow (a pipelined worker sends a clock layer by layer); the worker's clock
    /// advances with the push that has `more == false`.
    public var more: Bool
    public init(dtype: DType = .f32, workerRank: UInt32 = 0, last: Bool = false, more: Bool = false) {
        self.dtype = dtype
        self.workerRank = workerRank
        self.last = last
        self.more = more
    }
}

/// A push-pull's clock: the clock the push belonged to, and how many clocks the slowest worker lagged the clock the
/// returned values are for.
public struct PushPullReply: Equatable, Sendable {
    public var clock: UInt64
    public var lag: UInt64
    public init(clock: UInt64 = 0, lag: UInt64 = 0) {
        self.clock = clock
        self.lag = lag
    }
}

public struct StatsReply: Equatable, Sendable {
    public var pushes: UInt64 = 0
    public var pulls: UInt64 = 0
    public var rejected: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    public var bytesSent: UInt64 = 0
    public var keys: UInt64 = 0
    public var elements: UInt64 = 0
    public var nodeID: UInt32 = 0
    public init() {}
}

/// A request or reply with no fields (GetShardMap, Finish's reply, Push, Stats…): encodes to no bytes.
public struct Empty: WireMessage, Equatable {
    public init() {}
    public func encoded() -> [UInt8] { [] }
    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) { try Empty.validate(bytes) }
}
