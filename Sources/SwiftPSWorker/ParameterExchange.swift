import Synchronization
import SwiftPSCore
import SwiftPSTransport
import SwiftPSServer
import SwiftPSModel

/// What one exchange moved, for the metrics file.
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
}

/// Moves a model's gradients to the servers and their values back, one request per server, all servers at once.
///
/// Pushes go as fp32 views of the model's gradients when nothing is to be converted; otherwise each chunk is encoded
/// into a staging buffer (allocated once): bf16/f16 for a 16-bit wire, or compressed (int8, top-k) from a residual
/// that keeps what was not sent for the next push (error feedback). Pulled values come back in the wire dtype.
final class ParameterExchange {
    /// How one chunk's gradient becomes its push payload.
    struct Staging {
        var chunk: Chunk
        var payload: FloatBuffer
        /// Compression only: the gradient not yet sent.
        var residual: FloatBuffer?
    }

    let model: MLP
    /// The dtype of pulled values (dense).
    let dtype: DType
    /// How long a push-pull may wait: under BSP and SSP it waits for the slowest worker, whose death takes the
    /// coordinator's heartbeat timeout to notice.
    let pushPullTimeout: Duration
    let compression: Compression
    /// Per server: its client, its keys, and the push tensors (built once, over the gradients or the staging).
    let plan: [(client: ParameterServerClient, keys: [UInt64], gradients: [OutgoingTensor])]
    private let staging: [Staging]
    /// Top-k's selection scratch, as large as the largest chunk.
    private let scratch: FloatBuffer
    private let chunkByKey: [UInt64: (index: Int, chunk: Chunk)]
    /// Per chunk (map order), the version of the values this worker holds.
    private var versions: [UInt64]
    /// Payload bytes of one push, and what they would be as fp32.
    private let pushBytes: Int
    let uncompressedPushBytes: Int

    init(model: MLP, chunks: [Chunk], clients: [UInt32: ParameterServerClient], dtype: DType = .f32,
         compression: Compression = .none, pushPullTimeout: Duration = .seconds(30)) {
        self.model = model
        self.dtype = dtype
        self.pushPullTimeout = pushPullTimeout
        self.compression = compression
        let pushDType = compression.dtype ?? dtype
        func payloadBytes(_ chunk: Chunk) -> Int {
            compression == .none ? chunk.count * dtype.byteWidth : GradientCodec.payloadBytes(compression, count: chunk.count)
        }
        let staging = pushDType == .f32 ? [] : chunks.map { chunk in
            Staging(chunk: chunk, payload: FloatBuffer(count: (payloadBytes(chunk) + 3) / 4),
                    residual: compression == .none ? nil : FloatBuffer(count: chunk.count))
        }
        let stagingByKey = Dictionary(uniqueKeysWithValues: staging.map { ($0.chunk.key, $0.payload) })
        plan = clients.keys.sorted().map { id in
            let mine = chunks.filter { $0.server == id }
            let gradients = mine.map { chunk in
                let payload = stagingByKey[chunk.key].map {
                    Payload(owner: $0, bytes: UnsafeRawBufferPointer(start: $0.pointer, count: payloadBytes(chunk)))
                } ?? Payload(model.gradients[chunk.param], offset: chunk.offset, count: chunk.count)
                return OutgoingTensor(key: chunk.key, dtype: pushDType, count: chunk.count, payload: payload)
            }
            return (clients[id]!, mine.map(\.key), gradients)
        }
        self.staging = staging
        scratch = FloatBuffer(count: chunks.map(\.count).max() ?? 0)
        chunkByKey = Dictionary(uniqueKeysWithValues: chunks.enumerated().map { ($1.key, ($0, $1)) })
        versions = Array(repeating: 0, count: chunks.count)
        pushBytes = chunks.reduce(0) { $0 + payloadBytes($1) }
        uncompressedPushBytes = chunks.reduce(0) { $0 + $1.count * 4 }
    }

    /// Replaces every parameter with the servers' current values.
    @discardableResult
    func pullAll() async throws -> ExchangeStats {
        let dtype = dtype
        return try await exchange(pushed: false) { server in try await server.client.pull(server.keys, dtype: dtype) }
    }

    /// The first pull of a run. A server that has just seen the shard map may still be building its shard and
    /// answers UNAVAILABLE: retried with backoff (5 ms doubling to 200 ms) for up to `patience`.
    @discardableResult
    func initialPull(patience: Duration = .seconds(30)) async throws -> ExchangeStats {
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

    /// Pushes the model's gradients as worker `rank`'s next clock and takes the updated values in the same round
    /// trip (which waits as long as the job's consistency model says); `last` marks the worker's final push.
    @discardableResult
    func pushPullAll(rank: UInt32, last: Bool) async throws -> ExchangeStats {
        for stage in staging {
            let gradient = model.gradients[stage.chunk.param].pointer + stage.chunk.offset
            if let residual = stage.residual {
                for i in 0..<stage.chunk.count { residual.pointer[i] += gradient[i] }
                GradientCodec.encode(compression, residual: residual.pointer, count: stage.chunk.count,
                                     payload: stage.payload.pointer, scratch: scratch.pointer)
            } else {
                HalfPrecision.encode(gradient, to: stage.payload.pointer, count: stage.chunk.count, as: dtype)
            }
        }
        let dtype = dtype, timeout = pushPullTimeout
        let lag = Mutex(0)
        var stats = try await exchange(pushed: true) { server in
            let reply = try await server.client.pushPull(server.gradients, dtype: dtype, rank: rank, last: last,
                                                         timeout: timeout)
            lag.withLock { $0 = max($0, Int(clamping: reply.clock.lag)) }
            return reply.values
        }
        stats.clockLag = lag.withLock { $0 }
        stats.bytesSent = pushBytes
        stats.bytesSentUncompressed = uncompressedPushBytes
        return stats
    }

    private func exchange(
        pushed: Bool,
        _ call: @escaping @Sendable ((client: ParameterServerClient, keys: [UInt64], gradients: [OutgoingTensor])) async throws -> [ReceivedTensor]
    ) async throws -> ExchangeStats {
        let replies = try await withThrowingTaskGroup(of: [ReceivedTensor].self) { group in
            for server in plan { group.addTask { try await call(server) } }
            var all: [ReceivedTensor] = []
            for try await reply in group { all += reply }
            return all
        }
        var stats = ExchangeStats()
        for tensor in replies { try store(tensor, pushed: pushed, into: &stats) }
        return stats
    }

    private func store(_ tensor: ReceivedTensor, pushed: Bool, into stats: inout ExchangeStats) throws {
        guard let (index, chunk) = chunkByKey[tensor.header.key], Int(tensor.header.count) == chunk.count,
              tensor.header.dtype == dtype else {
            throw SwiftPSError(.internal, "server sent key \(keyName(tensor.header.key)) with \(tensor.header.count) elements of dtype \(tensor.header.dtypeRaw)")
        }
        let target = model.parameters[chunk.param].pointer + chunk.offset
        tensor.frame.withBytes { HalfPrecision.decode($0.baseAddress!, as: dtype, to: target, count: chunk.count) }
        stats.bytesReceived += tensor.bytes.count
        let version = tensor.header.version
        if pushed {
            // Our own push accounts for one version step; anything beyond it is someone else's update.
            let others = Int(clamping: version) - Int(clamping: versions[index]) - 1
            stats.staleness = max(stats.staleness, others)
        }
        versions[index] = version
    }
}
