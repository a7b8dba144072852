import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSServer
import SwiftPSModel

/// What exchanges moved, for the metrics file.
struct ExchangeStats {
    /// Payload bytes sent and received (tensor frames only, in the wire dtype: bf16 halves them).
    var bytesSent = 0
    /// What the pushed gradients would have been as fp32, before conversion or compression.
    var bytesSentUncompressed = 0
    var bytesReceived = 0
    /// Push-pulls only: over the keys, the version the server returned minus (the version this worker last saw + 1),
    /// i.e. how many other workers' updates landed between this worker's last pull of a key and its push; 0 alone.
    var staleness = 0
    /// Push-pulls only: over the servers, how many clocks the slowest worker lagged the clock the returned values
    /// are for (≤ S under ssp:S, 0 under BSP).
    var clockLag = 0

    /// Adds what `other` received: its bytes, and its staleness and clock lag where larger.
    mutating func addReceived(_ other: ExchangeStats) {
        bytesReceived += other.bytesReceived
        staleness = max(staleness, other.staleness)
        clockLag = max(clockLag, other.clockLag)
    }
}

/// Moves a model's gradients to the servers and their values back: the `LayerTransport` of the pipeline schedule.
///
/// A layer's push is one push-pull per server holding chunks of it (one per 4 MiB part of a larger layer), sent from
/// the schedule's task and answered on the clients' socket threads. Pushes go as fp32 views of the model's gradients
/// when nothing is to be converted and the next backward cannot overwrite them while they are in flight
/// (`maxInflight ≤ 1`); otherwise each chunk is copied or encoded into a ring of staging buffers (allocated once, one
/// slot per step in flight): bf16/f16 for a 16-bit wire, or compressed (int8, top-k) from a residual that keeps what
/// was not sent for the next push (error feedback). Replies are decoded into the model's parameters on the schedule's
/// task: by `receive`, or with `maxInflight ≤ 1` as soon as they come (see `storesEarly`), so that a large layer's
/// replies do not all sit in their frames at once.
final class ParameterExchange: LayerTransport {
    /// One push-pull of a layer's step: the layer's chunks on one server, or a part of them within `RequestParts`'
    /// budgets (4 MiB, 8,192 tensors).
    struct LayerRequest {
        var client: ParameterServerClient
        /// Indices into `chunks`.
        var chunks: [Int]
        /// Another push of the same step to this server follows: the next part of this layer, or a lower layer's
        /// (backward runs last layer first). The server advances this worker's clock with the step's final push.
        var more: Bool
        /// Per staging slot, the push's tensors (views of the gradients, or of that slot's staging), built once.
        var tensors: [[OutgoingTensor]]
    }


    let model: any TrainableModel
    /// The dtype of pulled values (dense).
    let dtype: DType
    let compression: Compression
    let rank: UInt32
    /// The last step's pushes carry `last`: the servers stop waiting for this worker's clock after them.
    var finalStep = Int.max
    /// How long a push-pull may wait: under BSP and SSP it waits for the slowest worker, whose death takes the
    /// coordinator's heartbeat timeout to notice.
    let pushPullTimeout: Duration
    private let chunks: [Chunk]
    private let pushDType: DType
    private let layerRequests: [[LayerRequest]]
    /// Per server, its client and every key it holds (whole-model pulls).
    private let servers: [(client: ParameterServerClient, keys: [UInt64])]
    /// Staging slots (one per step in flight) × chunks; empty when pushes go straight out of the gradients.
    private let staging: [[FloatBuffer]]
    /// Compression only: per chunk, the gradient not yet sent.
    private let residuals: [FloatBuffer?]
    /// Top-k's selection scratch, as large as the largest chunk.
    private let scratch: FloatBuffer
    private let chunkIndex: [UInt64: Int]
    /// Per chunk, the version of the values this worker holds.
    private var versions: [UInt64]
    /// Sent and not yet received, by [layer, step]: the calls whose replies are not stored yet (none left once
    /// stored early, until `receive` takes the layer).
    private var inFlight: [[Int]: [PendingCall]] = [:]
    /// What the replies stored for [layer, step] moved, until `receive` takes the layer and counts it.
    private var uncounted: [[Int]: ExchangeStats] = [:]
    /// Per step, the layers sent and not yet received, in the order they were sent.
    private var sendOrder: [Int: [Int]] = [:]
    /// Replies are stored as soon as they come (`maxInflight ≤ 1`), not only when `receive` asks for their layer.
    ///
    /// Safe then: once a layer's push of step s has left, nothing reads its weights again before the forward of step
    /// s + 1, which first receives the layer; and it is done on the schedule's own task, between its computations,
    /// never from a socket thread. With more steps in flight, the next step computes on the layer's older values.
    private let storesEarly: Bool
    private var stats = ExchangeStats()

    init(model: any TrainableModel, chunks: [Chunk], clients: [UInt32: ParameterServerClient], rank: UInt32 = 0,
         dtype: DType = .f32, compression: Compression = .none, maxInflight: Int = 1,
         pushPullTimeout: Duration = .seconds(30)) {
        self.model = model
        self.chunks = chunks
        self.rank = rank
        self.dtype = dtype
        self.compression = compression
        self.pushPullTimeout = pushPullTimeout
        storesEarly = maxInflight <= 1
        pushDType = compression.dtype ?? dtype
        chunkIndex = Dictionary(uniqueKeysWithValues: chunks.enumerated().map { ($1.key, $0) })
        versions = Array(repeating: 0, count: chunks.count)
        servers = clients.keys.sorted().map { id in (clients[id]!, chunks.filter { $0.server == id }.map(\.key)) }

        let pushDType = pushDType
        let needsStaging = pushDType != .f32 || maxInflight >= 2
        let floats = chunks.map { (Self.payloadBytes($0, pushDType, compression) + 3) / 4 }
        let staging = needsStaging ? (0..<max(1, maxInflight)).map { _ in floats.map { FloatBuffer(count: $0) } } : []
        self.staging = staging
        residuals = chunks.map { compression == .none ? nil : FloatBuffer(count: $0.count) }
        scratch = FloatBuffer(count: chunks.map(\.count).max() ?? 0)

        func tensor(_ index: Int, slot: Int) -> OutgoingTensor {
            let chunk = chunks[index]
            guard !staging.isEmpty else {
                return OutgoingTensor(key: chunk.key, dtype: .f32, count: chunk.count,
                                      payload: Payload(model.gradients[chunk.param], offset: chunk.offset, count: chunk.count))
            }
            let buffer = staging[slot][index]
            let bytes = UnsafeRawBufferPointer(start: buffer.pointer, count: Self.payloadBytes(chunk, pushDType, compression))
            return OutgoingTensor(key: chunk.key, dtype: pushDType, count: chunk.count, payload: Payload(owner: buffer, bytes: bytes))
        }
        let layerOfTensor = model.layerOfTensor
        let layerOf = { (chunk: Chunk) in layerOfTensor[chunk.param] }
        let lowestLayer = Dictionary(chunks.map { ($0.server, layerOf($0)) }, uniquingKeysWith: min)
        layerRequests = (0..<model.layerCount).map { layer in
            Self.interleaved(clients.keys.sorted().map { id in
                let mine = chunks.indices.filter { chunks[$0].server == id && layerOf(chunks[$0]) == layer }
                let parts = RequestParts.ranges(byteCounts: mine.map { Self.payloadBytes(chunks[$0], pushDType, compression) },
                                                maxBytes: Self.pushPartBytes)
                return parts.map { part in
                    let indices = Array(mine[part])
                    return LayerRequest(client: clients[id]!, chunks: indices,
                                        more: part.upperBound < mine.count || lowestLayer[id]! < layer,
                                        tensors: (0..<max(1, staging.count)).map { slot in indices.map { tensor($0, slot: slot) } })
                }
            })
        }
    }

    /// The servers' parts of a layer taken in turn (first parts first): replies taken in this order keep every
    /// server's window moving, where one server's parts after another's would leave the second idle meanwhile.
    private static func interleaved(_ perServer: [[LayerRequest]]) -> [LayerRequest] {
        (0..<(perServer.map(\.count).max() ?? 0)).flatMap { index in perServer.compactMap { index < $0.count ? $0[index] : nil } }
    }

    /// The payload budget of one push-pull request: half of `RequestParts`' 4 MiB (see `maxPayloadInFlight`).
    static let pushPartBytes = RequestParts.defaultMaxBytes / 2

    /// The most push payload a worker keeps in flight to one server: two requests, so that the server applies one
    /// while the next arrives, and holds no more of this worker's pushes than that however large a layer is (a
    /// server reads requests faster than it applies them, and held 1.1-1.5x its weights and state once a 100M-float
    /// layer's parts arrived at once). A chunk larger than a part goes alone, so two such chunks.
    ///
    /// Nil (no limit) under BSP and ssp:0: there a part's reply waits for the worker's whole clock, the last part
    /// included, which a limit would hold back behind it. With a bound of 1 or more the slowest worker's replies
    /// never wait, so every clock completes. (A BSP server keeps a round's pushes until the round is complete in
    /// any case: it sums them then.)
    static func maxPayloadInFlight(_ job: JobConfig) -> Int? {
        guard (job.consistency.bound ?? 1) >= 1 else { return nil }
        return 2 * max(pushPartBytes, job.chunkElements * 4)
    }

    /// Whether a request stays in the window until its reply is taken, not just until it arrives: with
    /// `maxInflight ≤ 1` the exchange takes replies in the order it sent them (`receive` first takes those of the
    /// layers sent before), so the replies waiting here are bounded too, however slowly the schedule gets to them.
    /// The price is that while the schedule computes, a layer's exchange moves on only by the window.
    static func takesInOrder(_ job: JobConfig) -> Bool {
        job.plan.maxInflight <= 1 && maxPayloadInFlight(job) != nil
    }

    /// Parts of a whole-model pull in flight per server: one arriving while the last is stored. (Four, as pushes
    /// use, held 16 MiB of frames for a pull that happens twice a run.)
    static let pullPartsInFlight = 2

    /// Payload bytes of one chunk's push.
    private static func payloadBytes(_ chunk: Chunk, _ dtype: DType, _ compression: Compression) -> Int {
        compression == .none ? chunk.count * dtype.byteWidth : GradientCodec.payloadBytes(compression, count: chunk.count)
    }

    /// What the exchanges since the last call moved; resets it.
    func takeStats() -> ExchangeStats {
        defer { stats = ExchangeStats() }
        return stats
    }

    /// Replaces every parameter with the servers' current values.
    ///
    /// Pulled in parts within `RequestParts`' budgets (4 MiB, 8,192 tensors), `pullPartsInFlight` per server at a
    /// time, each stored as it arrives: the frames alive at once are a few MiB, not the whole model (which, gathered
    /// whole before storing, made a worker's peak 3× the model's bytes).
    func pullAll() async throws {
        let width = dtype.byteWidth
        let parts = servers.map { server in
            RequestParts.ranges(byteCounts: server.keys.map { chunks[chunkIndex[$0]!].count * width }).map {
                (server.client, Array(server.keys[$0]))
            }
        }
        // Round robin over the servers, so that every server has parts in flight.
        var queue: [(client: ParameterServerClient, keys: [UInt64])] = []
        for index in 0..<(parts.map(\.count).max() ?? 0) {
            for server in parts where index < server.count { queue.append(server[index]) }
        }
        var window: [PendingCall] = []
        let limit = Self.pullPartsInFlight * max(1, servers.count)
        for part in queue {
            if window.count == limit { try storePulled(try await window.removeFirst().value()) }
            window.append(part.client.startPull(part.keys, dtype: dtype))
        }
        for call in window { try storePulled(try await call.value()) }
    }

    private func storePulled(_ reply: Reply) throws {
        for tensor in reply.tensors { try store(tensor, pushed: false, counting: &stats) }
    }

    /// The first pull of a run. A server that has just seen the shard map may still be building its shard and
    /// answers UNAVAILABLE: retried with backoff (5 ms doubling to 200 ms) for up to `patience`.
    func initialPull(patience: Duration = .seconds(30)) async throws {
        let clock = ContinuousClock()
        let giveUp = clock.now + patience
        var backoff = Duration.milliseconds(5)
        while true {
            do {
                return try await pullAll()
            } catch let error as SwiftPSError where error.code == .unavailable && clock.now + backoff < giveUp {
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .milliseconds(200))
            }
        }
    }

    func send(layer: Int, step: Int) throws {
        if storesEarly { try storeCompleted(sentBefore: layer, step: step) }
        let slot = staging.isEmpty ? 0 : step % staging.count
        let (dtype, rank, timeout) = (dtype, rank, pushPullTimeout)
        inFlight[[layer, step]] = layerRequests[layer].map { request in
            for index in request.chunks { stage(chunk: index, slot: slot) }
            // Queued now, in order: a server must see a clock's parts before the push that closes it.
            return request.client.startPushPull(request.tensors[slot], dtype: dtype, rank: rank,
                                                last: !request.more && step == finalStep, more: request.more,
                                                timeout: timeout)
        }
        sendOrder[step, default: []].append(layer)
    }

    func receive(layer: Int, step: Int) async throws {
        guard inFlight[[layer, step]] != nil, var order = sendOrder[step] else {
            throw SwiftPSError(.internal, "no push of layer \(layer) at step \(step) is in flight")
        }
        // The layers this step pushed before this one: their replies come first from each server (requests on one
        // connection are answered in order), and stored as they come, their frames do not pile up meanwhile.
        if storesEarly {
            for earlier in order.prefix(while: { $0 != layer }) {
                while let call = inFlight[[earlier, step]]?.first {
                    inFlight[[earlier, step]]!.removeFirst()
                    try storePushPull(try await call.value(), layer: earlier, step: step)
                }
            }
        }
        let calls = inFlight.removeValue(forKey: [layer, step])!
        order.removeAll { $0 == layer }
        sendOrder[step] = order.isEmpty ? nil : order
        for call in calls { try storePushPull(try await call.value(), layer: layer, step: step) }
        // Counted now, whenever they were stored: a step's record tells which values it took, as without early stores.
        if let counted = uncounted.removeValue(forKey: [layer, step]) { stats.addReceived(counted) }
    }

    /// Stores the replies that have already come for the layers this step pushed before `layer`, in the order they
    /// were sent, up to the first still outstanding.
    private func storeCompleted(sentBefore layer: Int, step: Int) throws {
        for earlier in sendOrder[step] ?? [] where earlier != layer {
            while let call = inFlight[[earlier, step]]?.first, let result = call.take() {
                inFlight[[earlier, step]]!.removeFirst()
                try storePushPull(try result.get(), layer: earlier, step: step)
            }
            if inFlight[[earlier, step]]?.isEmpty == false { return }
        }
    }

    /// Stores a reply to `layer`'s push of `step`; what it moved is counted in `stats` when `receive` takes the layer.
    private func storePushPull(_ reply: Reply, layer: Int, step: Int) throws {
        let reply = try ParameterServerClient.pushPullResult(reply)
        var counted = ExchangeStats()
        counted.clockLag = Int(clamping: reply.clock.lag)
        for tensor in reply.values { try store(tensor, pushed: true, counting: &counted) }
        uncounted[[layer, step], default: ExchangeStats()].addReceived(counted)
    }

    /// Readies chunk `index`'s push payload: nothing to do when it goes straight out of the gradients, else the
    /// gradient copied, converted or compressed into staging slot `slot`.
    private func stage(chunk index: Int, slot: Int) {
        let chunk = chunks[index]
        stats.bytesSent += Self.payloadBytes(chunk, pushDType, compression)
        stats.bytesSentUncompressed += chunk.count * 4
        guard !staging.isEmpty else { return }
        let gradient = model.gradients[chunk.param].pointer + chunk.offset
        let buffer = staging[slot][index]
        if let residual = residuals[index] {
            for i in 0..<chunk.count { residual.pointer[i] += gradient[i] }
            GradientCodec.encode(compression, residual: residual.pointer, count: chunk.count, payload: buffer.pointer,
                                 scratch: scratch.pointer)
        } else {
            HalfPrecision.encode(gradient, to: buffer.pointer, count: chunk.count, as: pushDType)
        }
    }

    private func store(_ tensor: ReceivedTensor, pushed: Bool, counting tally: inout ExchangeStats) throws {
        guard let index = chunkIndex[tensor.header.key], Int(tensor.header.count) == chunks[index].count,
              tensor.header.dtype == dtype else {
            throw SwiftPSError(.internal, "server sent key \(keyName(tensor.header.key)) with \(tensor.header.count) elements of dtype \(tensor.header.dtypeRaw)")
        }
        let chunk = chunks[index]
        let target = model.parameters[chunk.param].pointer + chunk.offset
        tensor.frame.withBytes { HalfPrecision.decode($0.baseAddress!, as: dtype, to: target, count: chunk.count) }
        tally.bytesReceived += tensor.bytes.count
        let version = tensor.header.version
        if pushed {
            // Our own push accounts for one version step; anything beyond it is someone else's update.
            let others = Int(clamping: version) - Int(clamping: versions[index]) - 1
            tally.staleness = max(tally.staleness, others)
        }
        versions[index] = version
    }
}
