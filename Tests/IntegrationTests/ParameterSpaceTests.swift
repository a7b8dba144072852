import Foundation
import Testing
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSCoordinator
import SwiftPSServer

extension Integration {
    /// A client that declares a parameter space of its own on a coordinator started with `--model client`, and two
    /// real servers that hold it: declaration rules, per-tensor options, Assign, and Stats' node ids.
    @Suite struct ParameterSpace {
        /// Shapes the MLP preset has no form for, an uploaded tensor, a frozen one and a scaled learning rate.
        static let space: [TensorSpec] = [
            TensorSpec(name: "kernel", shape: [2, 3, 4], initializer: .normal(std: 0.5)),
            TensorSpec(name: "table", shape: [5], initializer: .pushed),
            TensorSpec(name: "gain", shape: [3], initializer: .ones, frozen: true),
            TensorSpec(name: "scale", shape: [4], initializer: .constant(2), lrScale: 3),
        ]
        static let lr: Float = 0.25

        @Test func aClientDeclaresAssignsAndTrainsItsOwnSpace() async throws {
            let coordinator = try RunningProcess("coordinator", [
                "coordinator", "--bind", "tcp://127.0.0.1:0", "--model", "client", "--servers", "2", "--workers", "1",
                "--optimizer", "sgd", "--lr", "\(Self.lr)", "--chunk-elements", "8", "--heartbeat-timeout-ms", "60000"])
            defer { coordinator.stop() }
            let address = listeningAddress(try await coordinator.line { $0.hasPrefix("listening ") })
            let servers = try (0..<2).map { index in
                try RunningProcess("server-\(index)", ["server", "--coordinator", address, "--bind", "tcp://127.0.0.1:0"])
            }
            defer { for server in servers { server.stop() } }

            let context = ZMQContext()
            let client = try CoordinatorClient(context: context, endpoint: address)
            let me = try await client.register(role: .worker, address: "", connectTimeout: .seconds(10),
                                               shutdown: Shutdown(), log: Log("test"))
            #expect(me.job.tensors.isEmpty, "no space before the declaration")

            var bad = Self.space
            bad[1].shape = [0]
            await #expect(throws: SwiftPSError.self) { _ = try await client.declare(bad) }
            #expect(try await client.declare(Self.space) == Self.space)
            #expect(try await client.declare(Self.space) == Self.space, "declaring the same space again is a retry")
            var other = Self.space
            other[0].shape = [24]
            do {
                _ = try await client.declare(other)
                Issue.record("a different declaration was accepted")
            } catch let error as SwiftPSError {
                #expect(error.code == .alreadyExists)
            }

            let map = try await client.waitForShardMap(shutdown: Shutdown(), log: Log("test"))
            #expect(map.tensors == Self.space)
            // kernel: 24 elements in 3 chunks of 8; the others one chunk each.
            #expect(map.chunks.map(\.count) == [8, 8, 8, 5, 3, 4])
            var clients: [UInt32: ParameterServerClient] = [:]
            for server in map.servers { clients[server.id] = try ParameterServerClient(context: context, endpoint: server.address) }
            for server in servers { _ = try await server.line(.stderr) { $0.contains("serving") } }

            // Stats names each real server by the id the coordinator gave it.
            for (id, server) in clients { #expect(try await server.stats().nodeID == id) }

            func owner(_ chunk: Chunk) -> ParameterServerClient { clients[chunk.server]! }
            func pull(_ chunk: Chunk) async throws -> (values: [Float], version: UInt64) {
                let tensor = try #require(try await owner(chunk).pull([chunk.key]).first)
                return (tensor.frame.withBytes { Array($0.bindMemory(to: Float.self)) }, tensor.header.version)
            }
            func tensor(_ chunk: Chunk, _ values: [Float]) -> OutgoingTensor {
                let buffer = FloatBuffer(count: values.count)
                buffer.pointer.update(from: values, count: values.count)
                return OutgoingTensor(key: chunk.key, count: values.count, payload: Payload(buffer))
            }

            let table = map.chunks[3]
            do {
                _ = try await pull(table)
                Issue.record("a pushed tensor was served before it was assigned")
            } catch let error as SwiftPSError {
                #expect(error.code == .unavailable)
            }
            let uploaded: [Float] = [1, -2, 3, -4, 5]
            try await owner(table).assign([tensor(table, uploaded)])
            #expect(try await pull(table) == (uploaded, 0))

            let before = try await map.chunks.asyncMap { try await pull($0).values }
            #expect(before[4] == [1, 1, 1] && before[5] == [2, 2, 2, 2])
            // One push of gradient 1 everywhere.
            for chunk in map.chunks {
                _ = try await owner(chunk).push([tensor(chunk, [Float](repeating: 1, count: chunk.count))])
            }
            let after = try await map.chunks.asyncMap { try await pull($0) }
            for index in [0, 1, 2, 3] {
                #expect(after[index].values == before[index].map { $0 - Self.lr }, "plain SGD on chunk \(index)")
                #expect(after[index].version == 1)
            }
            #expect(after[4] == ([1, 1, 1], 0), "a frozen tensor is not changed and its version stays")
            #expect(after[5].values == [Float](repeating: 2 - 3 * Self.lr, count: 4), "lr_scale 3")
            do {
                try await owner(table).assign([tensor(table, uploaded)])
                Issue.record("an updated key was assigned again")
            } catch let error as SwiftPSError {
                #expect(error.code == .failedPrecondition)
            }

            try await client.finish(nodeID: me.nodeID)
            for server in clients.values { await server.close() }
            await client.close()
            for server in servers { #expect(try await server.exitStatus(timeout: .seconds(30)) == 0, "\(server.stderr)") }
            #expect(try await coordinator.exitStatus(timeout: .seconds(30)) == 0, "\(coordinator.stderr)")
        }

        /// A Swift worker refuses a job whose space is not its model's, naming the first tensor that differs.
        @Test func aSwiftWorkerRefusesASpaceThatIsNotItsModel() async throws {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("space-\(UUID()).json")
            defer { try? FileManager.default.removeItem(at: file) }
            try Data(#"{"tensors": [{"name": "w", "shape": [3, 3], "init": "xavier_uniform"}]}"#.utf8).write(to: file)
            let worker = try RunningProcess("worker", ["worker", "--standalone", "--params", file.path])
            #expect(try await worker.exitStatus(timeout: .seconds(30)) != 0)
            #expect(worker.stderr.contains("names no Swift model"), "\(worker.stderr)")
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
