import Testing
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSServer

/// The ParameterServer service over real sockets, in process: an `RPCServer` on a free loopback port and a client.
@Suite struct ParameterServerRPCTests {
    /// Serves `store` (or nothing yet) and lends a connected client; closes and stops both afterwards.
    static func withServer(_ store: ParameterStore?,
                           _ body: (ParameterServerClient, ParameterServerHandler) async throws -> Void) async throws {
        let context = ZMQContext()
        let handler = ParameterServerHandler(nodeID: 7, store: store)
        let server = try RPCServer(context: context, bind: "tcp://127.0.0.1:0", handler: handler)
        let client = try ParameterServerClient(context: context, endpoint: server.endpoint)
        do {
            try await body(client, handler)
        } catch {
            await client.close()
            await server.stop()
            throw error
        }
        await client.close()
        await server.stop()
    }

    /// The status a refused call throws with.
    static func refusal(_ call: () async throws -> Void) async -> StatusCode? {
        do {
            try await call()
            return nil
        } catch let error as SwiftPSError {
            return error.code
        } catch {
            return nil
        }
    }

    @Test func pushThenPullReturnsTheSGDUpdate() async throws {
        try await Self.withServer(TestShard.store()) { client, _ in
            let w0 = TestShard.initial(TestShard.w0)
            let gradient = (0..<1500).map { Float($0 % 7) - 3 }
            let versions = try await client.push([tensor(TestShard.w0, gradient), tensor(TestShard.b, [1, 2, 3])])
            #expect(versions == [1, 1])

            let pulled = try await client.pull([TestShard.b, TestShard.w0, TestShard.w1])
            #expect(pulled.map(\.header.key) == [TestShard.b, TestShard.w0, TestShard.w1])
            #expect(pulled.map(\.header.version) == [1, 1, 0])
            #expect(floats(pulled[0]) == [-0.5, -1, -1.5], "0 − 0.5·g")
            #expect(floats(pulled[1]) == zip(w0, gradient).map { $0 - 0.5 * $1 })
            #expect(floats(pulled[2]) == TestShard.initial(TestShard.w1), "not pushed, not changed")

            let (both, clock) = try await client.pushPull([tensor(TestShard.b, [2, 2, 2])])
            #expect(clock == PushPullReply(clock: 0, lag: 0), "async, one worker: its first clock, nobody behind it")
            #expect(both.map(\.header.key) == [TestShard.b] && both.map(\.header.version) == [2])
            #expect(floats(both[0]) == [-1.5, -2, -2.5], "−0.5 − 0.5·2, …")

            let stats = try await client.stats()
            #expect((stats.pushes, stats.pulls, stats.rejected) == (2, 2, 0), "a pushPull counts as both")
            #expect(stats.bytesSent == 4 * (3 + 1500 + 500 + 3))
            #expect(stats.bytesReceived > 4 * (1500 + 3 + 3))
            #expect((stats.keys, stats.elements, stats.nodeID) == (3, 2003, 7))
        }
    }

    @Test func refusedPushesLeaveTheWeightsAsTheyWere() async throws {
        try await Self.withServer(TestShard.store()) { client, _ in
            _ = try await client.push([tensor(TestShard.b, [4, 4, 4])])
            let before = try await client.pull([TestShard.b, TestShard.w1]).map { (floats($0), $0.header.version) }
            #expect(before[0].0 == [-2, -2, -2])

            let unknown = Chunk.key(param: 0, chunk: 2)
            #expect(await Self.refusal { _ = try await client.push([tensor(TestShard.b, [1, 1, 1]), tensor(unknown, [1])]) }
                    == .notFound)
            #expect(await Self.refusal { _ = try await client.push([tensor(TestShard.b, [1, 1])]) } == .invalidArgument)
            let nan = [Float](repeating: 1, count: 499) + [.nan]
            #expect(await Self.refusal { _ = try await client.push([tensor(TestShard.b, [1, 1, 1]), tensor(TestShard.w1, nan)]) }
                    == .invalidArgument)
            #expect(await Self.refusal { _ = try await client.pushPull([tensor(TestShard.w1, [.infinity] + nan.dropLast())]) }
                    == .invalidArgument)
            #expect(await Self.refusal { _ = try await client.pull([unknown]) } == .notFound)

            let after = try await client.pull([TestShard.b, TestShard.w1]).map { (floats($0), $0.header.version) }
            #expect(after.map(\.0) == before.map(\.0) && after.map(\.1) == [1, 0])
            let stats = try await client.stats()
            #expect((stats.pushes, stats.pulls, stats.rejected) == (1, 2, 5))
        }
    }

    /// A push of more than 4 MiB leaves as several requests (`RequestParts`); each is validated whole on its own, so
    /// a refused part leaves its keys unchanged while the parts before it were applied.
    @Test func largePushesGoInPartsEachAllOrNothing() async throws {
        let mebi = 1 << 18  // floats in 1 MiB
        let params = [TensorSpec(name: "big", shape: [6 * mebi])]
        let chunks = Placement.chunks(tensors: params, chunkElements: mebi, servers: [7])
        let store = ParameterStore(chunks: chunks, tensors: params, seed: 3, optimizer: TestShard.sgd)
        try await Self.withServer(store) { client, _ in
            let ones = [Float](repeating: 1, count: mebi)
            #expect(try await client.push(chunks.map { tensor($0.key, ones) }) == Array(repeating: 1, count: 6))
            #expect(try await client.stats().pushes == 2, "4 MiB, then 2 MiB")

            let poisoned = chunks.indices.map { tensor(chunks[$0].key, $0 == 5 ? ones.dropLast() + [.nan] : ones) }
            #expect(await Self.refusal { _ = try await client.push(poisoned) } == .invalidArgument)
            let versions = try await client.pull(chunks.map(\.key)).map(\.header.version)
            #expect(versions == [2, 2, 2, 2, 1, 1], "the first part applied, the refused one not")
        }
    }

    /// Pulls are sent straight from the weights, without a copy; pushes that arrive while such a reply is still
    /// being sent must not change what it carries. Every pull's values must be those of the version it reports.
    @Test func pullRepliesInFlightKeepTheirValuesWhilePushesApply() async throws {
        let count = 1 << 20  // 4 MiB: long enough on the wire for the pushes behind it to overlap
        let params = [TensorSpec(name: "big", shape: [count], initializer: .heNormal, fanIn: 64)]
        let chunks = Placement.chunks(tensors: params, chunkElements: count, servers: [7])
        let store = ParameterStore(chunks: chunks, tensors: params, seed: 5, optimizer: TestShard.sgd)
        let initial = store.withWeights(of: chunks[0].key) { weights, _ in Array(weights) }!
        try await Self.withServer(store) { client, _ in
            let ones = tensor(chunks[0].key, [Float](repeating: 1, count: count))
            let pulls = try await withThrowingTaskGroup(of: [ReceivedTensor].self) { group in
                for _ in 0..<8 {
                    group.addTask { try await client.pull([chunks[0].key]) }
                    group.addTask {
                        _ = try await client.push([ones])
                        return []
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(pulls.count == 8)
            for pulled in pulls {
                // SGD with lr 0.5 and a gradient of ones takes 0.5 off every weight at each version.
                let version = Int(pulled.header.version)
                let expected = initial.map { value in (0..<version).reduce(value) { weight, _ in weight - 0.5 } }
                let changed = zip(floats(pulled), expected).filter { $0 != $1 }.count
                #expect(changed == 0, "\(changed) values of the reply of version \(version) changed after it was taken")
            }
        }
    }

    @Test func unavailableUntilInstalled() async throws {
        try await Self.withServer(nil) { client, handler in
            #expect(await Self.refusal { _ = try await client.pull([TestShard.b]) } == .unavailable)
            #expect(await Self.refusal { _ = try await client.push([tensor(TestShard.b, [1, 1, 1])]) } == .unavailable)
            #expect(try await client.stats().keys == 0)

            handler.install(TestShard.store())
            #expect(try await client.push([tensor(TestShard.b, [1, 1, 1])]) == [1])
            let pulled = try await client.pull([TestShard.b])
            #expect(floats(pulled[0]) == [-0.5, -0.5, -0.5])
            let stats = try await client.stats()
            #expect((stats.keys, stats.rejected, stats.pushes) == (3, 2, 1))
        }
    }
}
