import SwiftPSCore
import SwiftPSTransport
import SwiftPSServer
import SwiftPSModel

/// What one exchange moved, for the metrics file.
struct ExchangeStats {
    /// Payload bytes sent and received (tensor frames only, in the wire dtype: bf16 halves them).
    var bytesSent = 0
    var bytesReceived = 0
    /// Push-pulls only: over the keys, the version the server returned minus (the version this worker last saw + 1),
    /// i.e. how many other workers' updates landed between this worker's last pull of a key and its push; 0 alone.
    var staleness = 0
}

/// Moves a model's gradients to the servers and their values back, one request per server, all servers at once.
///
/// With a 16-bit wire dtype the gradients are converted into staging buffers (allocated once) before each push,
/// and pulled values are converted back into the model's fp32 parameters.
final class ParameterExchange {
    let model: MLP
    let dtype: DType
    /// Per server: its client, its keys, and the gradient tensors (views of the model's gradients or of staging
    /// buffers, built once).
    let plan: [(client: ParameterServerClient, keys: [UInt64], gradients: [OutgoingTensor])]
    /// 16-bit wire only: each chunk and the buffer its gradient is converted into.
    private let staging: [(chunk: Chunk, buffer: FloatBuffer)]
    private let chunkByKey: [UInt64: (index: Int, chunk: Chunk)]
    /// Per chunk (map order), the version of the values this worker holds.
    private var versions: [UInt64]
    /// Payload bytes of one push: every chunk in the wire dtype.
    private let pushBytes: Int

    init(model: MLP, chunks: [Chunk], clients: [UInt32: ParameterServerClient], dtype: DType = .f32) {
        self.model = model
        self.dtype = dtype
        let staging = dtype == .f32 ? [] : chunks.map { ($0, FloatBuffer(count: ($0.count * dtype.byteWidth + 3) / 4)) }
        let stagingByKey = Dictionary(uniqueKeysWithValues: staging.map { ($0.0.key, $0.1) })
        plan = clients.keys.sorted().map { id in
            let mine = chunks.filter { $0.server == id }
            let gradients = mine.map { chunk in
                let payload = stagingByKey[chunk.key].map {
                    Payload(owner: $0, bytes: UnsafeRawBufferPointer(start: $0.pointer, count: chunk.count * dtype.byteWidth))
                } ?? Payload(model.gradients[chunk.param], offset: chunk.offset, count: chunk.count)
                return OutgoingTensor(key: chunk.key, dtype: dtype, count: chunk.count, payload: payload)
            }
            return (clients[id]!, mine.map(\.key), gradients)
        }
        self.staging = staging
        chunkByKey = Dictionary(uniqueKeysWithValues: chunks.enumerated().map { ($1.key, ($0, $1)) })
        versions = Array(repeating: 0, count: chunks.count)
        pushBytes = chunks.reduce(0) { $0 + $1.count * dtype.byteWidth }
    }

    /// Replaces every parameter with the servers' current values.
    @discardableResult
    func pullAll() async throws -> ExchangeStats {
        let dtype = dtype
        return try await exchange(pushed: false) { server in try await server.client.pull(server.keys, dtype: dtype) }
    }

    /// Pushes the model's gradients and takes the updated values in the same round trip.
    @discardableResult
    func pushPullAll() async throws -> ExchangeStats {
        for (chunk, buffer) in staging {
            HalfPrecision.encode(model.gradients[chunk.param].pointer + chunk.offset, to: buffer.pointer,
                                 count: chunk.count, as: dtype)
        }
        let dtype = dtype
        var stats = try await exchange(pushed: true) { server in
            try await server.client.pushPull(server.gradients, dtype: dtype)
        }
        stats.bytesSent = pushBytes
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
