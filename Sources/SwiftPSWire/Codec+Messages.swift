internal import CProtobufC
internal import SwiftPSProto
import SwiftPSCore

// WireMessage conformances: each message's fields copied to and from its protobuf-c struct.

private func cEnum<E: RawRepresentable>(_ value: Int) -> E where E.RawValue == UInt32 {
    E(rawValue: UInt32(truncatingIfNeeded: value))!
}

private func decodeRole(_ raw: UInt32) throws(SwiftPSError) -> Role {
    guard let role = Role(rawValue: Int(raw)) else { throw SwiftPSError(.invalidArgument, "unknown role \(raw)") }
    return role
}

private func decodeDType(_ raw: UInt32) throws(SwiftPSError) -> DType {
    if raw == 0 { return .f32 }
    guard let dtype = DType(rawValue: Int(raw)) else { throw SwiftPSError(.invalidArgument, "unknown dtype \(raw)") }
    return dtype
}

// MARK: - Shared sub-messages

extension OptimizerConfig {
    fileprivate func c(_ arena: Arena) -> UnsafeMutablePointer<Swiftps__V1__OptimizerConfig> {
        var o = Swiftps__V1__OptimizerConfig()
        swiftps__v1__optimizer_config__init(&o)
        o.kind = cEnum(kind.rawValue)
        o.learning_rate = learningRate
        o.momentum = momentum
        o.beta1 = beta1
        o.beta2 = beta2
        o.epsilon = epsilon
        o.weight_decay = weightDecay
        return arena.new(o)
    }

    fileprivate init(_ o: Swiftps__V1__OptimizerConfig) throws(SwiftPSError) {
        guard let kind = OptimizerConfig.Kind(rawValue: Int(o.kind.rawValue)) else {
            throw SwiftPSError(.invalidArgument, "unknown optimizer \(o.kind.rawValue)")
        }
        self.init(kind: kind, learningRate: o.learning_rate, momentum: o.momentum, beta1: o.beta1, beta2: o.beta2,
                  epsilon: o.epsilon, weightDecay: o.weight_decay)
    }
}

extension TensorSpec {
    fileprivate func c(_ arena: Arena) -> UnsafeMutablePointer<Swiftps__V1__TensorSpec>? {
        var t = Swiftps__V1__TensorSpec()
        swiftps__v1__tensor_spec__init(&t)
        t.name = arena.string(name)
        t.n_shape = shape.count
        t.shape = arena.array(shape.map { UInt64($0) })
        let (kind, a, b): (Int, Float, Float) = switch initializer {
        case .zeros: (0, 0, 0)
        case .ones: (1, 0, 0)
        case .constant(let value): (2, value, 0)
        case .normal(let std): (3, std, 0)
        case .uniform(let low, let high): (4, low, high)
        case .heNormal: (5, 0, 0)
        case .xavierUniform: (6, 0, 0)
        case .pushed: (7, 0, 0)
        }
        t.initializer = cEnum(kind)
        t.init_a = a
        t.init_b = b
        t.fan_in = UInt64(fanIn)
        t.fan_out = UInt64(fanOut)
        t.lr_scale = lrScale == 1 ? 0 : lrScale
        t.no_weight_decay = weightDecay ? 0 : 1
        t.frozen = frozen ? 1 : 0
        t.layout = cEnum(layout.rawValue)
        return arena.new(t)
    }

    fileprivate init(_ t: Swiftps__V1__TensorSpec) throws(SwiftPSError) {
        let name = string(t.name)
        let initializer: Initializer
        switch t.initializer.rawValue {
        case 0: initializer = .zeros
        case 1: initializer = .ones
        case 2: initializer = .constant(t.init_a)
        case 3: initializer = .normal(std: t.init_a)
        case 4: initializer = .uniform(low: t.init_a, high: t.init_b)
        case 5: initializer = .heNormal
        case 6: initializer = .xavierUniform
        case 7: initializer = .pushed
        default: throw SwiftPSError(.invalidArgument, "tensor '\(name)': unknown initializer \(t.initializer.rawValue)")
        }
        guard let layout = Layout(rawValue: Int(t.layout.rawValue)) else {
            throw SwiftPSError(.invalidArgument, "tensor '\(name)': unknown layout \(t.layout.rawValue)")
        }
        // Out-of-range numbers saturate here; the parameter space's validation refuses them by name.
        let shape = array(t.shape, t.n_shape).map { Int(clamping: $0) }
        self.init(name: name, shape: shape, initializer: initializer, fanIn: Int(clamping: t.fan_in),
                  fanOut: Int(clamping: t.fan_out), lrScale: t.lr_scale == 0 ? 1 : t.lr_scale,
                  weightDecay: t.no_weight_decay == 0, frozen: t.frozen != 0, layout: layout)
    }
}

private func encodeTensors(_ tensors: [TensorSpec], _ arena: Arena)
    -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Swiftps__V1__TensorSpec>?>?) {
    (tensors.count, arena.array(tensors.map { $0.c(arena) }))
}

private func decodeTensors(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<Swiftps__V1__TensorSpec>?>?,
                           _ count: Int) throws(SwiftPSError) -> [TensorSpec] {
    var tensors: [TensorSpec] = []
    for t in messages(pointer, count) { tensors.append(try TensorSpec(t)) }
    return tensors
}

extension TrainingPlan {
    fileprivate func c(_ arena: Arena) -> UnsafeMutablePointer<Swiftps__V1__TrainingPlan> {
        var p = Swiftps__V1__TrainingPlan()
        swiftps__v1__training_plan__init(&p)
        p.model = arena.string(model)
        p.batch_size = UInt32(batchSize)
        p.epochs = UInt32(epochs)
        p.train_samples = UInt32(trainSamples)
        p.test_samples = UInt32(testSamples)
        p.accumulate = UInt32(accumulate)
        p.compression = arena.string(compression.description)
        p.train_data = arena.string(trainData)
        p.test_data = arena.string(testData)
        p.micro_batches = UInt32(microBatches)
        p.max_inflight = UInt32(maxInflight)
        return arena.new(p)
    }

    fileprivate init(_ p: Swiftps__V1__TrainingPlan) throws(SwiftPSError) {
        self.init()
        model = string(p.model)
        batchSize = Int(p.batch_size)
        epochs = Int(p.epochs)
        trainSamples = Int(p.train_samples)
        testSamples = Int(p.test_samples)
        accumulate = max(1, Int(p.accumulate))  // 0: a sender that left the field out
        let compressionText = string(p.compression)
        guard let compression = compressionText.isEmpty ? Compression.none : Compression(parsing: compressionText) else {
            throw SwiftPSError(.invalidArgument, "unknown compression '\(compressionText)'")
        }
        self.compression = compression
        trainData = string(p.train_data)
        testData = string(p.test_data)
        microBatches = max(1, Int(p.micro_batches))
        maxInflight = Int(p.max_inflight)
    }
}

extension JobConfig {
    fileprivate func c(_ arena: Arena) -> UnsafeMutablePointer<Swiftps__V1__JobConfig> {
        var j = Swiftps__V1__JobConfig()
        swiftps__v1__job_config__init(&j)
        j.seed = seed
        j.optimizer = optimizer.c(arena)
        j.chunk_elements = UInt32(chunkElements)
        j.servers = UInt32(servers)
        j.workers = UInt32(workers)
        j.heartbeat_timeout_ms = UInt32(heartbeatTimeoutMs)
        j.allow_nonfinite = allowNonFinite ? 1 : 0
        j.wire_dtype = cEnum(wireDType.rawValue)
        j.consistency = arena.string(consistency.description)
        (j.n_tensors, j.tensors) = encodeTensors(tensors, arena)
        j.plan = plan.c(arena)
        return arena.new(j)
    }

    fileprivate init(_ j: Swiftps__V1__JobConfig) throws(SwiftPSError) {
        self.init()
        seed = j.seed
        if let o = j.optimizer?.pointee { optimizer = try OptimizerConfig(o) }
        chunkElements = Int(j.chunk_elements)
        servers = Int(j.servers)
        workers = Int(j.workers)
        heartbeatTimeoutMs = Int(j.heartbeat_timeout_ms)
        allowNonFinite = j.allow_nonfinite != 0
        wireDType = try decodeDType(j.wire_dtype.rawValue)
        let consistencyText = string(j.consistency)
        guard let consistency = consistencyText.isEmpty ? Consistency.async : Consistency(parsing: consistencyText) else {
            throw SwiftPSError(.invalidArgument, "unknown consistency '\(consistencyText)'")
        }
        self.consistency = consistency
        tensors = try decodeTensors(j.tensors, j.n_tensors)
        if let p = j.plan?.pointee { plan = try TrainingPlan(p) }
    }
}

extension NodeInfo {
    fileprivate func c(_ arena: Arena) -> UnsafeMutablePointer<Swiftps__V1__NodeInfo>? {
        var n = Swiftps__V1__NodeInfo()
        swiftps__v1__node_info__init(&n)
        n.id = id
        n.role = cEnum(role.rawValue)
        n.address = arena.string(address)
        n.state = cEnum(state.rawValue)
        n.clock = clock
        n.millis_since_heartbeat = millisSinceHeartbeat
        n.samples_per_second = samplesPerSecond
        n.rank = rank
        return arena.new(n)
    }

    fileprivate init(_ n: Swiftps__V1__NodeInfo) throws(SwiftPSError) {
        self.init(id: n.id, role: try decodeRole(n.role.rawValue), address: string(n.address),
                  state: NodeState(rawValue: Int(n.state.rawValue)) ?? .alive, clock: n.clock,
                  millisSinceHeartbeat: n.millis_since_heartbeat, samplesPerSecond: n.samples_per_second, rank: n.rank)
    }
}

private func decodeNodes(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<Swiftps__V1__NodeInfo>?>?,
                         _ count: Int) throws(SwiftPSError) -> [NodeInfo] {
    var nodes: [NodeInfo] = []
    for n in messages(pointer, count) { nodes.append(try NodeInfo(n)) }
    return nodes
}

// MARK: - Coordinator messages

extension RegisterRequest: WireMessage {
    public func encoded() -> [UInt8] {
        let arena = Arena()
        var m = Swiftps__V1__RegisterRequest()
        swiftps__v1__register_request__init(&m)
        m.role = cEnum(role.rawValue)
        m.address = arena.string(address)
        m.instance = arena.string(instance)
        return pack(&m, keeping: arena, swiftps__v1__register_request__get_packed_size, swiftps__v1__register_request__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "RegisterRequest", swiftps__v1__register_request__unpack,
                          swiftps__v1__register_request__free_unpacked) { (m) throws(SwiftPSError) in
            RegisterRequest(role: try decodeRole(m.pointee.role.rawValue), address: string(m.pointee.address),
                            instance: string(m.pointee.instance))
        }
    }
}

extension RegisterReply: WireMessage {
    public func encoded() -> [UInt8] {
        let arena = Arena()
        var m = Swiftps__V1__RegisterReply()
        swiftps__v1__register_reply__init(&m)
        m.node_id = nodeID
        m.rank = rank
        m.job = job.c(arena)
        return pack(&m, keeping: arena, swiftps__v1__register_reply__get_packed_size, swiftps__v1__register_reply__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "RegisterReply", swiftps__v1__register_reply__unpack,
                          swiftps__v1__register_reply__free_unpacked) { (m) throws(SwiftPSError) in
            guard let job = m.pointee.job?.pointee else { throw SwiftPSError(.invalidArgument, "RegisterReply without job") }
            return RegisterReply(nodeID: m.pointee.node_id, rank: m.pointee.rank, job: try JobConfig(job))
        }
    }
}

extension HeartbeatRequest: WireMessage {
    public func encoded() -> [UInt8] {
        var m = Swiftps__V1__HeartbeatRequest()
        swiftps__v1__heartbeat_request__init(&m)
        m.node_id = nodeID
        m.clock = clock
        m.samples_per_second = samplesPerSecond
        return pack(&m, swiftps__v1__heartbeat_request__get_packed_size, swiftps__v1__heartbeat_request__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "HeartbeatRequest", swiftps__v1__heartbeat_request__unpack,
                          swiftps__v1__heartbeat_request__free_unpacked) { m in
            HeartbeatRequest(nodeID: m.pointee.node_id, clock: m.pointee.clock,
                             samplesPerSecond: m.pointee.samples_per_second)
        }
    }
}

extension HeartbeatReply: WireMessage {
    public func encoded() -> [UInt8] {
        let arena = Arena()
        var m = Swiftps__V1__HeartbeatReply()
        swiftps__v1__heartbeat_reply__init(&m)
        m.job_finished = jobFinished ? 1 : 0
        m.n_dropped_workers = droppedWorkers.count
        m.dropped_workers = arena.array(droppedWorkers)
        return pack(&m, keeping: arena, swiftps__v1__heartbeat_reply__get_packed_size, swiftps__v1__heartbeat_reply__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "HeartbeatReply", swiftps__v1__heartbeat_reply__unpack,
                          swiftps__v1__heartbeat_reply__free_unpacked) { m in
            HeartbeatReply(jobFinished: m.pointee.job_finished != 0,
                           droppedWorkers: array(m.pointee.dropped_workers, m.pointee.n_dropped_workers))
        }
    }
}

extension ShardMap: WireMessage {
    public func encoded() -> [UInt8] {
        let arena = Arena()
        var m = Swiftps__V1__ShardMap()
        swiftps__v1__shard_map__init(&m)
        m.ready = ready ? 1 : 0
        m.n_servers = servers.count
        m.servers = arena.array(servers.map { $0.c(arena) })
        (m.n_tensors, m.tensors) = encodeTensors(tensors, arena)
        let cChunks: [UnsafeMutablePointer<Swiftps__V1__Chunk>?] = chunks.map { k in
            var c = Swiftps__V1__Chunk()
            swiftps__v1__chunk__init(&c)
            c.key = k.key
            c.param = UInt32(k.param)
            c.offset = UInt64(k.offset)
            c.count = UInt64(k.count)
            c.server = k.server
            return arena.new(c)
        }
        m.n_chunks = cChunks.count
        m.chunks = arena.array(cChunks)
        return pack(&m, keeping: arena, swiftps__v1__shard_map__get_packed_size, swiftps__v1__shard_map__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "ShardMap", swiftps__v1__shard_map__unpack,
                          swiftps__v1__shard_map__free_unpacked) { (m) throws(SwiftPSError) in
            let s = m.pointee
            let tensors = try decodeTensors(s.tensors, s.n_tensors)
            let chunks = messages(s.chunks, s.n_chunks).map {
                Chunk(key: $0.key, param: Int($0.param), offset: Int($0.offset), count: Int($0.count), server: $0.server)
            }
            return ShardMap(ready: s.ready != 0, servers: try decodeNodes(s.servers, s.n_servers), tensors: tensors,
                            chunks: chunks)
        }
    }
}

extension DeclareTensors: WireMessage {
    public func encoded() -> [UInt8] {
        let arena = Arena()
        var m = Swiftps__V1__DeclareTensorsRequest()
        swiftps__v1__declare_tensors_request__init(&m)
        (m.n_tensors, m.tensors) = encodeTensors(tensors, arena)
        return pack(&m, keeping: arena, swiftps__v1__declare_tensors_request__get_packed_size,
                    swiftps__v1__declare_tensors_request__pack)
    }

    /// The request and the reply have the same single field, so one decoding serves both.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "DeclareTensors", swiftps__v1__declare_tensors_request__unpack,
                          swiftps__v1__declare_tensors_request__free_unpacked) { (m) throws(SwiftPSError) in
            DeclareTensors(tensors: try decodeTensors(m.pointee.tensors, m.pointee.n_tensors))
        }
    }
}

extension BarrierRequest: WireMessage {
    public func encoded() -> [UInt8] {
        let arena = Arena()
        var m = Swiftps__V1__BarrierRequest()
        swiftps__v1__barrier_request__init(&m)
        m.name = arena.string(name)
        m.node_id = nodeID
        return pack(&m, keeping: arena, swiftps__v1__barrier_request__get_packed_size, swiftps__v1__barrier_request__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "BarrierRequest", swiftps__v1__barrier_request__unpack,
                          swiftps__v1__barrier_request__free_unpacked) { m in
            BarrierRequest(name: string(m.pointee.name), nodeID: m.pointee.node_id)
        }
    }
}

extension BarrierReply: WireMessage {
    public func encoded() -> [UInt8] {
        var m = Swiftps__V1__BarrierReply()
        swiftps__v1__barrier_reply__init(&m)
        m.participants = participants
        return pack(&m, swiftps__v1__barrier_reply__get_packed_size, swiftps__v1__barrier_reply__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "BarrierReply", swiftps__v1__barrier_reply__unpack,
                          swiftps__v1__barrier_reply__free_unpacked) { m in
            BarrierReply(participants: m.pointee.participants)
        }
    }
}

extension FinishRequest: WireMessage {
    public func encoded() -> [UInt8] {
        var m = Swiftps__V1__FinishRequest()
        swiftps__v1__finish_request__init(&m)
        m.node_id = nodeID
        return pack(&m, swiftps__v1__finish_request__get_packed_size, swiftps__v1__finish_request__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "FinishRequest", swiftps__v1__finish_request__unpack,
                          swiftps__v1__finish_request__free_unpacked) { m in
            FinishRequest(nodeID: m.pointee.node_id)
        }
    }
}

extension ClusterStatusReply: WireMessage {
    public func encoded() -> [UInt8] {
        let arena = Arena()
        var m = Swiftps__V1__ClusterStatusReply()
        swiftps__v1__cluster_status_reply__init(&m)
        m.n_nodes = nodes.count
        m.nodes = arena.array(nodes.map { $0.c(arena) })
        m.job_finished = jobFinished ? 1 : 0
        return pack(&m, keeping: arena, swiftps__v1__cluster_status_reply__get_packed_size, swiftps__v1__cluster_status_reply__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "ClusterStatusReply", swiftps__v1__cluster_status_reply__unpack,
                          swiftps__v1__cluster_status_reply__free_unpacked) { (m) throws(SwiftPSError) in
            ClusterStatusReply(nodes: try decodeNodes(m.pointee.nodes, m.pointee.n_nodes),
                               jobFinished: m.pointee.job_finished != 0)
        }
    }
}

// MARK: - Parameter server messages

extension PushReply: WireMessage {
    public func encoded() -> [UInt8] {
        let arena = Arena()
        var m = Swiftps__V1__PushReply()
        swiftps__v1__push_reply__init(&m)
        m.n_versions = versions.count
        m.versions = arena.array(versions)
        return pack(&m, keeping: arena, swiftps__v1__push_reply__get_packed_size, swiftps__v1__push_reply__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "PushReply", swiftps__v1__push_reply__unpack,
                          swiftps__v1__push_reply__free_unpacked) { m in
            PushReply(versions: array(m.pointee.versions, m.pointee.n_versions))
        }
    }
}

extension PullRequest: WireMessage {
    public func encoded() -> [UInt8] {
        let arena = Arena()
        var m = Swiftps__V1__PullRequest()
        swiftps__v1__pull_request__init(&m)
        m.n_keys = keys.count
        m.keys = arena.array(keys)
        m.dtype = cEnum(dtype.rawValue)
        return pack(&m, keeping: arena, swiftps__v1__pull_request__get_packed_size, swiftps__v1__pull_request__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "PullRequest", swiftps__v1__pull_request__unpack,
                          swiftps__v1__pull_request__free_unpacked) { (m) throws(SwiftPSError) in
            PullRequest(keys: array(m.pointee.keys, m.pointee.n_keys), dtype: try decodeDType(m.pointee.dtype.rawValue))
        }
    }
}

extension PushPullRequest: WireMessage {
    public func encoded() -> [UInt8] {
        var m = Swiftps__V1__PushPullRequest()
        swiftps__v1__push_pull_request__init(&m)
        m.dtype = cEnum(dtype.rawValue)
        m.worker_rank = workerRank
        m.last = last ? 1 : 0
        m.more = more ? 1 : 0
        return pack(&m, swiftps__v1__push_pull_request__get_packed_size, swiftps__v1__push_pull_request__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "PushPullRequest", swiftps__v1__push_pull_request__unpack,
                          swiftps__v1__push_pull_request__free_unpacked) { (m) throws(SwiftPSError) in
            PushPullRequest(dtype: try decodeDType(m.pointee.dtype.rawValue), workerRank: m.pointee.worker_rank,
                            last: m.pointee.last != 0, more: m.pointee.more != 0)
        }
    }
}

extension PushPullReply: WireMessage {
    public func encoded() -> [UInt8] {
        var m = Swiftps__V1__PushPullReply()
        swiftps__v1__push_pull_reply__init(&m)
        m.clock = clock
        m.lag = lag
        return pack(&m, swiftps__v1__push_pull_reply__get_packed_size, swiftps__v1__push_pull_reply__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "PushPullReply", swiftps__v1__push_pull_reply__unpack,
                          swiftps__v1__push_pull_reply__free_unpacked) { m in
            PushPullReply(clock: m.pointee.clock, lag: m.pointee.lag)
        }
    }
}

extension StatsReply: WireMessage {
    public func encoded() -> [UInt8] {
        var m = Swiftps__V1__StatsReply()
        swiftps__v1__stats_reply__init(&m)
        m.pushes = pushes
        m.pulls = pulls
        m.rejected = rejected
        m.bytes_received = bytesReceived
        m.bytes_sent = bytesSent
        m.keys = keys
        m.elements = elements
        m.node_id = nodeID
        return pack(&m, swiftps__v1__stats_reply__get_packed_size, swiftps__v1__stats_reply__pack)
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "StatsReply", swiftps__v1__stats_reply__unpack,
                          swiftps__v1__stats_reply__free_unpacked) { m in
            var s = StatsReply()
            s.pushes = m.pointee.pushes
            s.pulls = m.pointee.pulls
            s.rejected = m.pointee.rejected
            s.bytesReceived = m.pointee.bytes_received
            s.bytesSent = m.pointee.bytes_sent
            s.keys = m.pointee.keys
            s.elements = m.pointee.elements
            s.nodeID = m.pointee.node_id
            return s
        }
    }
}

extension Empty {
    /// Checks that `bytes` parse as a message with no fields (unknown fields are skipped, as protobuf does).
    public static func validate(_ bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        guard !bytes.isEmpty else { return }  // the usual case: nothing to parse
        try unpack(bytes, "request", swiftps__v1__push_request__unpack, swiftps__v1__push_request__free_unpacked) { _ in }
    }

    public static func validate(_ bytes: [UInt8]) throws(SwiftPSError) {
        guard !bytes.isEmpty else { return }
        let result = bytes.withUnsafeBytes { raw in Result { () throws(SwiftPSError) in try validate(raw) } }
        try result.get()
    }
}
