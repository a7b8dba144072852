import Synchronization
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport

/// Counters a server shares with its heartbeat loop (updated by the socket thread), and its node id (set once it
/// has registered; 0 before).
public final class ServerCounters: Sendable {
    public let nodeID = Atomic<UInt32>(0)
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
///
/// Push-pulls follow the job's consistency model through a `ClockTable`: under async and SSP a push is applied on
/// arrival, under BSP it is kept (its frames, uncopied) until every live worker has pushed the same clock, then the
/// round's pushes are summed in rank order and applied once. The reply is parked until the table releases it.
public final class ParameterServerHandler: RPCHandler {
    /// A push-pull's reply, waiting for the consistency model.
    struct ParkedPull {
        var route: Route
        var keys: [UInt64]
        var dtype: DType
    }

    public let counters: ServerCounters
    private var store: ParameterStore?
    private var clocks = ClockTable<ParkedPull>(consistency: .async, workers: 0)
    /// BSP: each open round's pushes (all parts), by worker rank, held in their received frames.
    private var rounds: [UInt64: [UInt32: [ReceivedTensor]]] = [:]
    private var droppedRanks: Set<UInt32> = []
    /// Where another thread leaves the shard for the socket thread to pick up.
    public let mailbox = ShardMailbox()
    /// 16-bit pull snapshots per key, each reused once libzmq has released the send that carried it: the pool grows to
    /// the number of pulls of that key in flight and no further, so steady-state pulls touch no fresh pages.
    private var snapshots: [UInt64: [FloatBuffer]] = [:]

    public init(nodeID: UInt32 = 0, store: ParameterStore? = nil, counters: ServerCounters = ServerCounters()) {
        self.store = store
        self.counters = counters
        counters.nodeID.store(nodeID, ordering: .relaxed)
    }

    /// Hands the shard to the socket thread, with the job's consistency model and its expected workers (ranks
    /// `0..<workers` take part from the first clock); the handler owns the store from then on.
    public func install(_ store: sending ParameterStore, consistency: Consistency = .async, workers: Int = 0) {
        mailbox.install(store, clocks: ClockTable(consistency: consistency, workers: workers))
    }

    /// Takes the workers the coordinator dropped: their clocks no longer hold the others back.
    public func tick(now: ContinuousClock.Instant) -> [OutgoingReply] {
        guard (try? shard()) != nil else { return [] }
        var replies: [OutgoingReply] = []
        for rank in mailbox.takeDropped() where droppedRanks.insert(rank).inserted {
            replies += carryOut(clocks.drop(rank))
        }
        return replies
    }

    public func refused(_ error: SwiftPSError) { counters.add(.rejected, 1) }

    public func handle(_ request: IncomingRequest) -> [OutgoingReply] {
        counters.add(.bytesReceived, request.byteCount)
        do {
            let replies = try answer(request)
            for reply in replies { counters.add(.bytesSent, reply.tensors.reduce(0) { $0 + $1.payload.bytes.count }) }
            return replies
        } catch {
            counters.add(.rejected, 1)
            return [OutgoingReply(to: request.route, error: error)]
        }
    }

    private func answer(_ request: IncomingRequest) throws(SwiftPSError) -> [OutgoingReply] {
        let route = request.route
        guard let method = request.envelope.method else {
            throw SwiftPSError(.unimplemented, "unknown method \(request.envelope.methodRaw)")
        }
        if let peer = request.peer, peer.role != .worker, method != .stats {
            throw SwiftPSError(.permissionDenied, "\(peer) may not call \(method): a worker key is needed")
        }
        switch method {
        case .push:
            try Empty.validate(request.envelope.body)
            guard clocks.consistency != .bsp else {
                throw SwiftPSError(.failedPrecondition, "a BSP job takes pushes as PushPull, with the worker's rank")
            }
            let versions = try withValidated(request.tensors) { store, views in store.apply(views) }
            return [OutgoingReply(to: route, PushReply(versions: versions))]
        case .pull:
            let pull = try PullRequest(decoding: request.envelope.body)
            try requireNoTensors(request)
            return [OutgoingReply(to: route, Empty(), tensors: try values(pull.keys, dtype: pull.dtype))]
        case .pushPull:
            return try pushPull(request)
        case .stats:
            try Empty.validate(request.envelope.body)
            return [OutgoingReply(to: route, stats())]
        case .assign:
            try Empty.validate(request.envelope.body)
            let store = try shard()
            guard !request.tensors.isEmpty else { throw SwiftPSError(.invalidArgument, "an assign needs at least one tensor") }
            try withExtendedLifetime(request.tensors) { () throws(SwiftPSError) in
                try store.assign(request.tensors.map(Self.view))
            }
            return [OutgoingReply(to: route, Empty())]
        default:
            throw SwiftPSError(.unimplemented, "\(method) is not a ParameterServer method")
        }
    }

    /// Validates the push whole, advances the worker's clock, applies the push (or keeps it for its BSP round),
    /// and answers every push-pull the consistency model now allows.
    private func pushPull(_ request: IncomingRequest) throws(SwiftPSError) -> [OutgoingReply] {
        let pushPull = try PushPullRequest(decoding: request.envelope.body)
        guard pushPull.dtype.isDense else {  // checked before applying: a refused request changes nothing
            throw SwiftPSError(.invalidArgument, "values are served as f32, bf16 or f16, not \(pushPull.dtype)")
        }
        let parked = ParkedPull(route: request.route, keys: request.tensors.map(\.header.key), dtype: pushPull.dtype)
        let decision = try withValidated(request.tensors) { (store, views) throws(SwiftPSError) in
            if clocks.consistency == .bsp { try requireRoomInRounds(for: request.tensors, rank: pushPull.workerRank, store) }
            let (clock, decision) = try clocks.push(from: pushPull.workerRank, more: pushPull.more, last: pushPull.last,
                                                    waiter: parked)
            if clocks.consistency == .bsp {
                rounds[clock, default: [:]][pushPull.workerRank, default: []] += request.tensors
            } else {
                _ = store.apply(views)
            }
            return decision
        }
        return carryOut(decision)
    }

    /// BSP keeps a round's pushes until every live worker has pushed: one worker's held bytes stay within twice the
    /// shard's fp32 bytes (a round carries each key once), so that pushing parts without end (`more`) cannot pin the
    /// server's memory. Past it: RESOURCE_EXHAUSTED, with nothing kept.
    private func requireRoomInRounds(for tensors: [ReceivedTensor], rank: UInt32, _ store: ParameterStore) throws(SwiftPSError) {
        let held = rounds.values.reduce(0) { $0 + ($1[rank] ?? []).reduce(0) { $0 + $1.bytes.count } }
        let adding = tensors.reduce(0) { $0 + $1.bytes.count }, limit = 2 * 4 * store.elements + (1 << 20)
        guard held + adding <= limit else {
            throw SwiftPSError(.resourceExhausted, "worker rank \(rank) would have \(held + adding) bytes held for open BSP "
                               + "rounds, more than \(limit) (twice this shard): push each key once per clock")
        }
    }

    /// Applies the rounds the table completed and answers the replies it released.
    private func carryOut(_ decision: ClockTable<ParkedPull>.Decision) -> [OutgoingReply] {
        for round in decision.completedRounds { applyRound(round) }
        return decision.released.map { release in
            let parked = release.waiter
            do throws(SwiftPSError) {
                return OutgoingReply(to: parked.route, PushPullReply(clock: release.clock, lag: release.lag),
                                     tensors: try values(parked.keys, dtype: parked.dtype))
            } catch {
                return OutgoingReply(to: parked.route, error: error)
            }
        }
    }

    /// Applies a BSP round: its pushes summed key by key in rank order, each key updated once.
    private func applyRound(_ round: UInt64) {
        guard let pushes = rounds.removeValue(forKey: round), let store else { return }
        let ranked = pushes.keys.sorted().map { pushes[$0]! }
        let skipped = withExtendedLifetime(ranked) {  // the views point into the frames
            store.applySum(ranked.map { $0.map(Self.view) })
        }
        counters.add(.rejected, skipped.count)  // keys whose summed update would have overflowed
    }

    private static func view(_ t: ReceivedTensor) -> TensorView {
        TensorView(key: t.header.key, dtype: t.header.dtype ?? .f32, count: Int(t.header.count), bytes: t.bytes)
    }

    private func shard() throws(SwiftPSError) -> ParameterStore {
        if store == nil, let (installed, table) = mailbox.take() {
            store = installed
            clocks = table
        }
        guard let store else { throw SwiftPSError(.unavailable, "this server has no shard yet") }
        return store
    }

    private func requireNoTensors(_ request: IncomingRequest) throws(SwiftPSError) {
        guard request.tensors.isEmpty else {
            throw SwiftPSError(.invalidArgument, "a pull carries no payload frames, got \(request.tensors.count)")
        }
    }

    /// Validates a whole push, counts it, and hands `body` views that point into the frames (alive meanwhile).
    private func withValidated<R>(_ tensors: [ReceivedTensor],
                                  _ body: (ParameterStore, [TensorView]) throws(SwiftPSError) -> R) throws(SwiftPSError) -> R {
        let store = try shard()
        guard !tensors.isEmpty else { throw SwiftPSError(.invalidArgument, "a push needs at least one tensor") }
        let views = tensors.map(Self.view)
        return try withExtendedLifetime(tensors) { () throws(SwiftPSError) -> R in
            try store.validate(views)
            let result = try body(store, views)
            counters.add(.pushes, 1)
            return result
        }
    }

    /// The keys' current values in `dtype`: f32 straight from the weights (the store copies them away from a send
    /// that still holds them before it next writes), 16-bit dtypes converted into a snapshot buffer the send owns.
    private func values(_ keys: [UInt64], dtype: DType) throws(SwiftPSError) -> [OutgoingTensor] {
        let store = try shard()
        guard dtype.isDense else {
            throw SwiftPSError(.invalidArgument, "values are served as f32, bf16 or f16, not \(dtype)")
        }
        for key in keys { try store.requireServable(key) }
        counters.add(.pulls, 1)
        if dtype == .f32 {
            return keys.map { key in
                let (weights, version) = store.sharedWeights(of: key)!
                return OutgoingTensor(key: key, count: weights.count, version: version, payload: Payload(weights))
            }
        }
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
        s.nodeID = counters.nodeID.load(ordering: .relaxed)
        return s
    }
}

/// Carries a shard (and its clocks) from the task that built it, and the coordinator's news of dropped workers from
/// the heartbeat loop, to the server's socket thread.
public final class ShardMailbox: Sendable {
    private let slot = Mutex<StoreBox?>(nil)
    private let dropped = Mutex<[UInt32]>([])

    /// Leaves the store for the socket thread; callable from any thread.
    func install(_ store: sending ParameterStore, clocks: ClockTable<ParameterServerHandler.ParkedPull>) {
        let box = StoreBox(store, clocks)
        slot.withLock { $0 = box }
    }

    /// Workers the coordinator marked dead (repeats are ignored by the handler).
    public func drop(_ ranks: [UInt32]) {
        guard !ranks.isEmpty else { return }
        dropped.withLock { $0 += ranks }
    }

    func take() -> (ParameterStore, ClockTable<ParameterServerHandler.ParkedPull>)? {
        slot.withLock { box in
            defer { box = nil }
            return box.map { ($0.store, $0.clocks) }
        }
    }

    func takeDropped() -> [UInt32] {
        dropped.withLock { ranks in
            defer { ranks = [] }
            return ranks
        }
    }
}

/// `@unchecked Sendable`: taken exactly once, and the sender keeps no reference (`sending`).
final class StoreBox: @unchecked Sendable {
    let store: ParameterStore
    let clocks: ClockTable<ParameterServerHandler.ParkedPull>
    init(_ store: ParameterStore, _ clocks: ClockTable<ParameterServerHandler.ParkedPull>) {
        self.store = store
        self.clocks = clocks
    }
}
