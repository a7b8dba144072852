import Synchronization
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport

/// Counters a server shares with its heartbeat loop; updated by the socket thread.
public final class ServerCounters: Sendable {
    public let pushes = Atomic<UInt64>(0)
    public let pulls = Atomic<UInt64>(0)
    public let rejected = Atomic<UInt64>(0)
    public let bytesReceived = Atomic<UInt64>(0)
    public let bytesSent = Atomic<UInt64>(0)

    public init() {}

    enum Counter { case pushes, pulls, rejected, bytesReceived, bytesSent }

    func add(_ counter: Counter, _ value: Int) {
        let amount = UInt64(value)
        switch counter {
        case .pushes: pushes.wrappingAdd(amount, ordering: .relaxed)
        case .pulls: pulls.wrappingAdd(amount, ordering: .relaxed)
        case .rejected: rejected.wrappingAdd(amount, ordering: .relaxed)
        case .bytesReceived: bytesReceived.wrappingAdd(amount, ordering: .relaxed)
        case .bytesSent: bytesSent.wrappingAdd(amount, ordering: .relaxed)
        }
    }
}

/// The ParameterServer service: applies pushes to its shard and answers pulls, on the server's socket thread.
///
/// Until its shard is installed it answers UNAVAILABLE. Every request is validated whole before anything is applied;
/// a refused request leaves the weights as they were and is counted in `rejected`.
public final class ParameterServerHandler: RPCHandler {
    public let counters: ServerCounters
    public let nodeID: UInt32
    private var store: ParameterStore?
    /// Where another thread leaves the shard for the socket thread to pick up.
    public let mailbox = ShardMailbox()
    /// Pull snapshots per key, each reused once libzmq has released the send that carried it: the pool grows to
    /// the number of pulls of that key in flight and no further, so steady-state pulls touch no fresh pages.
    private var snapshots: [UInt64: [FloatBuffer]] = [:]

    public init(nodeID: UInt32 = 0, store: ParameterStore? = nil, counters: ServerCounters = ServerCounters()) {
        self.nodeID = nodeID
        self.store = store
        self.counters = counters
    }

    /// Hands the shard to the socket thread; the handler owns the store from then on.
    public func install(_ store: sending ParameterStore) { mailbox.install(store) }

    public func tick(now: ContinuousClock.Instant) -> [OutgoingReply] { [] }

    public func refused(_ error: SwiftPSError) { counters.add(.rejected, 1) }

    public func handle(_ request: IncomingRequest) -> [OutgoingReply] {
        counters.add(.bytesReceived, request.byteCount)
        do {
            let reply = try answer(request)
            counters.add(.bytesSent, reply.tensors.reduce(0) { $0 + $1.payload.bytes.count })
            return [reply]
        } catch {
            counters.add(.rejected, 1)
            return [OutgoingReply(to: request.route, error: error)]
        }
    }

    private func answer(_ request: IncomingRequest) throws(SwiftPSError) -> OutgoingReply {
        let route = request.route
        guard let method = request.envelope.method else {
            throw SwiftPSError(.unimplemented, "unknown method \(request.envelope.methodRaw)")
        }
        switch method {
        case .push:
            try Empty.validate(request.envelope.body)
            let versions = try apply(request.tensors)
            return OutgoingReply(to: route, PushReply(versions: versions))
        case .pull:
            let pull = try PullRequest(decoding: request.envelope.body)
            try requireNoTensors(request)
            return OutgoingReply(to: route, Empty(), tensors: try values(pull.keys, dtype: pull.dtype))
        case .pushPull:
            let pushPull = try PushPullRequest(decoding: request.envelope.body)
            guard pushPull.dtype.isDense else {  // checked before applying: a refused request changes nothing
                throw SwiftPSError(.invalidArgument, "values are served as f32, bf16 or f16, not \(pushPull.dtype)")
            }
            _ = try apply(request.tensors)
            return OutgoingReply(to: route, Empty(),
                                 tensors: try values(request.tensors.map(\.header.key), dtype: pushPull.dtype))
        case .stats:
            try Empty.validate(request.envelope.body)
            return OutgoingReply(to: route, stats())
        default:
            throw SwiftPSError(.unimplemented, "\(method) is not a ParameterServer method")
        }
    }

    private func shard() throws(SwiftPSError) -> ParameterStore {
        if store == nil { store = mailbox.take() }
        guard let store else { throw SwiftPSError(.unavailable, "server \(nodeID) has no shard yet") }
        return store
    }

    private func requireNoTensors(_ request: IncomingRequest) throws(SwiftPSError) {
        guard request.tensors.isEmpty else {
            throw SwiftPSError(.invalidArgument, "a pull carries no payload frames, got \(request.tensors.count)")
        }
    }

    private func apply(_ tensors: [ReceivedTensor]) throws(SwiftPSError) -> [UInt64] {
        let store = try shard()
        guard !tensors.isEmpty else { throw SwiftPSError(.invalidArgument, "a push needs at least one tensor") }
        let views = tensors.map { t in
            TensorView(key: t.header.key, dtype: t.header.dtype ?? .f32, count: Int(t.header.count), bytes: t.bytes)
        }
        // The views point into the frames: keep them alive until the update is applied.
        return try withExtendedLifetime(tensors) { () throws(SwiftPSError) -> [UInt64] in
            try store.validate(views)
            counters.add(.pushes, 1)
            return store.apply(views)
        }
    }

    /// The keys' current values in `dtype`, each copied (and converted) into a snapshot buffer that the send owns.
    private func values(_ keys: [UInt64], dtype: DType) throws(SwiftPSError) -> [OutgoingTensor] {
        let store = try shard()
        guard dtype.isDense else {
            throw SwiftPSError(.invalidArgument, "values are served as f32, bf16 or f16, not \(dtype)")
        }
        for key in keys where store.count(of: key) == nil {
            throw SwiftPSError(.notFound, "unknown key \(keyName(key))")
        }
        counters.add(.pulls, 1)
        return keys.map { key in
            store.withWeights(of: key) { weights, version in
                let bytes = weights.count * dtype.byteWidth
                let snapshot = reusableSnapshot(key: key, floats: (bytes + 3) / 4)
                HalfPrecision.encode(weights.baseAddress!, to: snapshot.pointer, count: weights.count, as: dtype)
                let payload = Payload(owner: snapshot, bytes: UnsafeRawBufferPointer(start: snapshot.pointer, count: bytes))
                return OutgoingTensor(key: key, dtype: dtype, count: weights.count, version: version, payload: payload)
            }!
        }
    }

    /// A snapshot buffer of the key that no send holds any more, or a new one added to the key's pool.
    private func reusableSnapshot(key: UInt64, floats: Int) -> FloatBuffer {
        var pool = snapshots.removeValue(forKey: key) ?? []
        defer { snapshots[key] = pool }
        for index in pool.indices where isKnownUniquelyReferenced(&pool[index]) && pool[index].count == floats {
            return pool[index]
        }
        let buffer = FloatBuffer(count: floats)
        pool.append(buffer)
        return buffer
    }

    private func stats() -> StatsReply {
        var s = StatsReply()
        s.pushes = counters.pushes.load(ordering: .relaxed)
        s.pulls = counters.pulls.load(ordering: .relaxed)
        s.rejected = counters.rejected.load(ordering: .relaxed)
        s.bytesReceived = counters.bytesReceived.load(ordering: .relaxed)
        s.bytesSent = counters.bytesSent.load(ordering: .relaxed)
        s.keys = UInt64(store?.keyCount ?? 0)
        s.elements = UInt64(store?.elements ?? 0)
        s.nodeID = nodeID
        return s
    }
}

/// Carries a shard from the task that built it to the server's socket thread.
public final class ShardMailbox: Sendable {
    private let slot = Mutex<StoreBox?>(nil)

    /// Leaves the store for the socket thread; callable from any thread.
    public func install(_ store: sending ParameterStore) {
        let box = StoreBox(store)
        slot.withLock { $0 = box }
    }

    func take() -> ParameterStore? {
        slot.withLock { box in
            defer { box = nil }
            return box?.store
        }
    }
}

/// `@unchecked Sendable`: taken exactly once, and the sender keeps no reference (`sending`).
final class StoreBox: @unchecked Sendable {
    let store: ParameterStore
    init(_ store: ParameterStore) { self.store = store }
}
