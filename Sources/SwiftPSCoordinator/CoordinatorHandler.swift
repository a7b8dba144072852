import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport

/// The Coordinator service: membership, the parameter space, the shard map, heartbeats, barriers and the end of
/// the job.
///
/// Pure logic on the coordinator's socket thread (see `RPCHandler`); tests drive it with requests and clock ticks.
/// A node must heartbeat from the moment it registers (also while it waits for the shard map), or it is marked dead.
/// The job ends once the expected workers have all registered and none is still alive (finished or dead); servers
/// learn it from their next heartbeat and leave, and the coordinator is done when no server is left alive.
/// A worker may join a running job (rank ≥ `job.workers`) until it ends; servers hear of dead workers' ranks in
/// their heartbeat replies, so that no consistency clock waits for them.
/// The parameter space comes with the job, or, when the job has none, from the first client's DeclareTensors; the
/// shard map is built once both it and every expected server are there, and neither changes afterwards.
/// On a secured transport every request names its key (`Peer`): only server keys register servers and only worker
/// keys workers or the space; a node's later calls must come from the key that registered it.
public final class CoordinatorHandler: RPCHandler {
    struct Node {
        var info: NodeInfo
        var instance: String
        /// The key that registered it; nil on an open cluster.
        var peer: Peer?
        var lastHeartbeat: ContinuousClock.Instant
    }

    public private(set) var job: JobConfig
    private let log: Log
    private var nodes: [UInt32: Node] = [:]
    private var instances: [String: UInt32] = [:]
    private var nextID: UInt32 = 1
    private var shardMap: ShardMap?
    private var barriers: [String: [UInt32: Route]] = [:]
    private var now: ContinuousClock.Instant

    public private(set) var jobFinished = false
    /// The job ended and every server has left: the coordinator may exit.
    public var isDone: Bool { jobFinished && !nodes.values.contains { $0.info.role == .server && $0.info.state == .alive } }

    public init(job: JobConfig, log: Log = Log("coordinator"), now: ContinuousClock.Instant = .now) {
        self.job = job
        self.log = log
        self.now = now
    }

    public func handle(_ request: IncomingRequest) -> [OutgoingReply] {
        do {
            return try answer(request)
        } catch {
            if error.code == .permissionDenied { log.info("refused: \(error.message)") }
            return [OutgoingReply(to: request.route, error: error)]
        }
    }

    public func tick(now: ContinuousClock.Instant) -> [OutgoingReply] {
        self.now = now
        let timeout = Duration.milliseconds(job.heartbeatTimeoutMs)
        for (id, node) in nodes where node.info.state == .alive && now - node.lastHeartbeat > timeout {
            nodes[id]!.info.state = .dead
            log.info("\(node.info.role) \(id) missed heartbeats for \(timeout): marked dead")
        }
        updateJobState()
        return releaseBarriers()
    }

    private func answer(_ request: IncomingRequest) throws(SwiftPSError) -> [OutgoingReply] {
        let route = request.route, body = request.envelope.body
        guard request.tensors.isEmpty else {
            throw SwiftPSError(.invalidArgument, "coordinator requests carry no payload frames")
        }
        guard let method = request.envelope.method else {
            throw SwiftPSError(.unimplemented, "unknown method \(request.envelope.methodRaw)")
        }
        switch method {
        case .register:
            return [OutgoingReply(to: route, try register(try RegisterRequest(decoding: body), peer: request.peer))]
        case .heartbeat:
            let beat = try HeartbeatRequest(decoding: body)
            try requireOwner(beat.nodeID, request.peer)
            return [OutgoingReply(to: route, try heartbeat(beat))]
        case .getShardMap:
            try Empty.validate(body)
            return [OutgoingReply(to: route, shardMap ?? ShardMap(ready: false))]
        case .barrier:
            let barrier = try BarrierRequest(decoding: body)
            _ = try node(barrier.nodeID, role: .worker)
            try requireOwner(barrier.nodeID, request.peer)
            barriers[barrier.name, default: [:]][barrier.nodeID] = route
            return releaseBarriers()
        case .finish:
            let finish = try FinishRequest(decoding: body)
            _ = try node(finish.nodeID, role: nil)
            try requireOwner(finish.nodeID, request.peer)
            nodes[finish.nodeID]!.info.state = .finished
            log.info("\(nodes[finish.nodeID]!.info.role) \(finish.nodeID) finished")
            updateJobState()
            return [OutgoingReply(to: route, Empty())] + releaseBarriers()
        case .clusterStatus:
            try Empty.validate(body)
            return [OutgoingReply(to: route, clusterStatus())]
        case .declareTensors:
            if let peer = request.peer, peer.role != .worker {
                throw SwiftPSError(.permissionDenied, "\(peer) may not declare the parameter space: a worker key is needed")
            }
            return [OutgoingReply(to: route, try declare(try DeclareTensors(decoding: body)))]
        default:
            throw SwiftPSError(.unimplemented, "\(method) is not a Coordinator method")
        }
    }

    private func register(_ request: RegisterRequest, peer: Peer?) throws(SwiftPSError) -> RegisterReply {
        if let peer, peer.role.rawValue != request.role.description {
            throw SwiftPSError(.permissionDenied, "\(peer) may not register as a \(request.role): a \(request.role) key is needed")
        }
        guard !request.instance.isEmpty else {
            throw SwiftPSError(.invalidArgument, "Register needs an instance token unique to the process")
        }
        if let id = instances[request.instance], let node = nodes[id] {  // a retried Register
            guard node.peer == peer else {
                throw SwiftPSError(.permissionDenied, "instance \(request.instance) was registered by another key")
            }
            return RegisterReply(nodeID: id, rank: node.info.rank, job: job)
        }
        let rank = nodes.values.filter { $0.info.role == request.role }.count
        if request.role == .server && rank >= job.servers {
            throw SwiftPSError(.failedPrecondition, "the job expects \(job.servers) servers and all have registered")
        }
        if request.role == .worker && jobFinished {
            throw SwiftPSError(.failedPrecondition, "the job has finished; no worker can join it")
        }
        if request.role == .server {
            guard !request.address.isEmpty else { throw SwiftPSError(.invalidArgument, "a server must give its address") }
        }
        let id = nextID
        nextID += 1
        nodes[id] = Node(info: NodeInfo(id: id, role: request.role, address: request.address, rank: UInt32(rank)),
                         instance: request.instance, peer: peer, lastHeartbeat: now)
        instances[request.instance] = id
        let joining = request.role == .worker && rank >= job.workers ? ", joining the running job" : ""
        log.info("\(request.role) \(id) (rank \(rank)) registered\(request.address.isEmpty ? "" : " at \(request.address)")\(joining)")
        buildShardMapIfReady()
        return RegisterReply(nodeID: id, rank: UInt32(rank), job: job)
    }

    /// Sets the parameter space of a job that has none; the space in force, declared again, is answered as it is.
    private func declare(_ request: DeclareTensors) throws(SwiftPSError) -> DeclareTensors {
        if !job.tensors.isEmpty {
            guard request.tensors == job.tensors else {
                throw SwiftPSError(.alreadyExists, "the job's parameter space is already declared (\(job.tensors.count) tensors, "
                                   + "first '\(job.tensors[0].name)'), and this declaration differs")
            }
            return DeclareTensors(tensors: job.tensors)
        }
        try TensorSpec.validate(request.tensors)
        let chunks = request.tensors.reduce(0) { $0 + ($1.count + job.chunkElements - 1) / job.chunkElements }
        guard chunks <= Self.maxChunks else {
            throw SwiftPSError(.invalidArgument, "the space cuts into \(chunks) chunks of \(job.chunkElements) elements; at most \(Self.maxChunks)")
        }
        job.tensors = request.tensors
        let elements = job.tensors.reduce(0) { $0 + $1.count }
        log.info("parameter space declared: \(job.tensors.count) tensors, \(elements) elements")
        buildShardMapIfReady()
        return DeclareTensors(tensors: job.tensors)
    }

    /// Most chunks of one shard map (what `--chunk-elements` may cut a space into).
    public static let maxChunks = 1 << 20

    private func buildShardMapIfReady() {
        let servers = nodes.values.map(\.info).filter { $0.role == .server }.sorted { $0.id < $1.id }
        guard shardMap == nil, servers.count == job.servers, !job.tensors.isEmpty else { return }
        let chunks = Placement.chunks(tensors: job.tensors, chunkElements: job.chunkElements, servers: servers.map(\.id))
        shardMap = ShardMap(ready: true, servers: servers, tensors: job.tensors, chunks: chunks)
        log.info("shard map ready: \(chunks.count) chunks of \(job.tensors.count) tensors over \(servers.count) servers")
    }

    private func heartbeat(_ request: HeartbeatRequest) throws(SwiftPSError) -> HeartbeatReply {
        let node = try node(request.nodeID, role: nil)
        guard node.info.state != .dead else {
            throw SwiftPSError(.failedPrecondition, "node \(request.nodeID) was dropped after missing its heartbeats")
        }
        nodes[request.nodeID]!.lastHeartbeat = now
        nodes[request.nodeID]!.info.clock = request.clock
        nodes[request.nodeID]!.info.samplesPerSecond = request.samplesPerSecond
        if jobFinished && node.info.role == .server { nodes[request.nodeID]!.info.state = .finished }
        guard node.info.role == .server else { return HeartbeatReply(jobFinished: jobFinished) }
        let dropped = nodes.values.filter { $0.info.role == .worker && $0.info.state == .dead }.map(\.info.rank)
        return HeartbeatReply(jobFinished: jobFinished, droppedWorkers: dropped.sorted())
    }

    /// On a secured transport, a node's calls must come from the key that registered it.
    private func requireOwner(_ id: UInt32, _ peer: Peer?) throws(SwiftPSError) {
        guard let peer, let node = nodes[id], node.peer != peer else { return }
        throw SwiftPSError(.permissionDenied, "node \(id) was registered by another key; \(peer) may not act for it")
    }

    private func node(_ id: UInt32, role: Role?) throws(SwiftPSError) -> Node {
        guard let node = nodes[id] else { throw SwiftPSError(.notFound, "no node \(id)") }
        if let role, node.info.role != role { throw SwiftPSError(.failedPrecondition, "node \(id) is not a \(role)") }
        return node
    }

    private func updateJobState() {
        guard !jobFinished else { return }
        let workers = nodes.values.filter { $0.info.role == .worker }
        if workers.count >= job.workers && !workers.contains(where: { $0.info.state == .alive }) {
            jobFinished = true
            log.info("job finished: every worker is done")
        }
    }

    /// Answers every barrier that all live workers have reached, once every expected worker has registered.
    private func releaseBarriers() -> [OutgoingReply] {
        let workers = nodes.values.filter { $0.info.role == .worker }
        guard workers.count >= job.workers else { return [] }
        let alive = Set(workers.filter { $0.info.state == .alive }.map(\.info.id))
        var replies: [OutgoingReply] = []
        for (name, arrived) in barriers where alive.isSubset(of: arrived.keys) && !arrived.isEmpty {
            let participants = BarrierReply(participants: UInt32(arrived.count))
            replies += arrived.values.map { OutgoingReply(to: $0, participants) }
            barriers[name] = nil
        }
        return replies
    }

    private func clusterStatus() -> ClusterStatusReply {
        let infos = nodes.values.sorted { $0.info.id < $1.info.id }.map { node in
            var info = node.info
            info.millisSinceHeartbeat = UInt32(clamping: (now - node.lastHeartbeat).milliseconds)
            return info
        }
        return ClusterStatusReply(nodes: infos, jobFinished: jobFinished)
    }
}
