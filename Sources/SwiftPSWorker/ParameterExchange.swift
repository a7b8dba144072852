import SwiftPSCore
import SwiftPSTransport
import SwiftPSServer
import SwiftPSModel

/// Moves a model's gradients to the servers and their values back, one request per server, all servers at once.
final class ParameterExchange {
    let model: MLP
    /// Per server: its client, its keys, and the gradient tensors (views into the model's gradient buffers, built once).
    let plan: [(client: ParameterServerClient, keys: [UInt64], gradients: [OutgoingTensor])]
    private let chunkByKey: [UInt64: Chunk]

    init(model: MLP, chunks: [Chunk], clients: [UInt32: ParameterServerClient]) {
        self.model = model
        plan = clients.keys.sorted().map { id in
            let mine = chunks.filter { $0.server == id }
            let gradients = mine.map { chunk in
                OutgoingTensor(key: chunk.key, count: chunk.count,
                               payload: Payload(model.gradients[chunk.param], offset: chunk.offset, count: chunk.count))
            }
            return (clients[id]!, mine.map(\.key), gradients)
        }
        chunkByKey = Dictionary(uniqueKeysWithValues: chunks.map { ($0.key, $0) })
    }

    /// Replaces every parameter with the servers' current values.
    func pullAll() async throws {
        try await exchange { server in try await server.client.pull(server.keys) }
    }

    /// Pushes the model's gradients and takes the updated values in the same round trip.
    func pushPullAll() async throws {
        try await exchange { server in try await server.client.pushPull(server.gradients) }
    }

    private func exchange(
        _ call: @escaping @Sendable ((client: ParameterServerClient, keys: [UInt64], gradients: [OutgoingTensor])) async throws -> [ReceivedTensor]
    ) async throws {
        let replies = try await withThrowingTaskGroup(of: [ReceivedTensor].self) { group in
            for server in plan { group.addTask { try await call(server) } }
            var all: [ReceivedTensor] = []
            for try await reply in group { all += reply }
            return all
        }
        for tensor in replies { try store(tensor) }
    }

    private func store(_ tensor: ReceivedTensor) throws {
        guard let chunk = chunkByKey[tensor.header.key], Int(tensor.header.count) == chunk.count,
              tensor.header.dtype == .f32 else {
            throw SwiftPSError(.internal, "server sent key \(keyName(tensor.header.key)) with \(tensor.header.count) elements")
        }
        let target = model.parameters[chunk.param].pointer + chunk.offset
        tensor.frame.withBytes { UnsafeMutableRawPointer(target).copyMemory(from: $0.baseAddress!, byteCount: chunk.count * 4) }
    }
}
