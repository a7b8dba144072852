import Testing
import Synchronization
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSServer

/// BSP on a real server socket: pushes of one clock are summed and applied once, and a dropped worker no longer
/// holds the round back.
@Suite struct ConsistencyRPCTests {
    static let g0: [Float] = [1, 2, 3], g1: [Float] = [10, 20, 30]

    /// A BSP server for ranks 0 and 1, with a client per rank.
    static func withBSPServer(_ body: (ParameterServerClient, ParameterServerClient, ParameterServerHandler) async throws -> Void) async throws {
        try await ParameterServerRPCTests.withServer(nil) { rank0, handler in
            handler.install(TestShard.store(), consistency: .bsp, workers: 2)
            let context = ZMQContext()
            let rank1 = try ParameterServerClient(context: context, endpoint: rank0.endpoint)
            do {
                try await body(rank0, rank1, handler)
            } catch {
                await rank1.close()
                throw error
            }
            await rank1.close()
        }
    }

    /// Returns once the server has taken `count` pushes (each check is a Stats round trip; bounded).
    static func awaitPushes(_ count: UInt64, via client: ParameterServerClient) async throws -> Bool {
        for _ in 0..<10_000 where try await client.stats().pushes >= count { return true }
        return false
    }

    @Test func bspSumsTheRoundAndAppliesItOnce() async throws {
        try await Self.withBSPServer { rank0, rank1, _ in
            let first = Task { try await rank0.pushPull([tensor(TestShard.b, Self.g0)], rank: 0) }
            let second = try await rank1.pushPull([tensor(TestShard.b, Self.g1)], rank: 1)
            let firstReply = try await first.value
            for (values, clock) in [firstReply, second] {
                #expect(clock == PushPullReply(clock: 0, lag: 0))
                #expect(values.map(\.header.version) == [1], "one update for the round, not one per push")
                #expect(floats(values[0]) == [-5.5, -11, -16.5], "0 − 0.5·(g0 + g1)")
            }
        }
    }

    @Test func bspRefusesASecondPushInTheOpenRoundAndPlainPushes() async throws {
        try await Self.withBSPServer { rank0, rank1, _ in
            let first = Task { try await rank0.pushPull([tensor(TestShard.b, Self.g0)], rank: 0) }
            #expect(try await Self.awaitPushes(1, via: rank0), "rank 0's push is parked in round 0")
            #expect(await ParameterServerRPCTests.refusal {
                _ = try await rank0.pushPull([tensor(TestShard.b, Self.g1)], rank: 0)
            } == .failedPrecondition)
            #expect(await ParameterServerRPCTests.refusal { _ = try await rank0.push([tensor(TestShard.b, Self.g1)]) }
                    == .failedPrecondition)
            _ = try await rank1.pushPull([tensor(TestShard.b, Self.g1)], rank: 1)
            let (values, _) = try await first.value
            #expect(floats(values[0]) == [-5.5, -11, -16.5], "the refused pushes changed nothing")
        }
    }

    /// A worker that keeps pushing parts of one clock (`more`) is held to twice the shard's bytes (here 2,003 floats:
    /// 16 KiB + 1 MiB), then refused; the round still completes with what was held.
    @Test func bspHoldsAtMostTwiceTheShardPerWorker() async throws {
        try await Self.withBSPServer { rank0, rank1, _ in
            let w0 = tensor(TestShard.w0, [Float](repeating: 1e-3, count: 1500))  // 6,000 bytes a part
            let limit = 2 * 4 * 2003 + (1 << 20), fit = limit / 6000
            let parts = (0..<fit).map { _ in rank0.startPushPull([w0], rank: 0, more: true) }
            #expect(try await Self.awaitPushes(UInt64(fit), via: rank0), "every part within the limit is held")
            #expect(await ParameterServerRPCTests.refusal {
                _ = try await rank0.pushPull([w0], rank: 0, more: true)
            } == .resourceExhausted)
            let closing = Task { try await rank0.pushPull([tensor(TestShard.b, Self.g0)], rank: 0) }
            _ = try await rank1.pushPull([tensor(TestShard.b, Self.g1)], rank: 1)
            _ = try await closing.value
            for part in parts { #expect(try ParameterServerClient.pushPullResult(try await part.value()).values.count == 1) }
            // The held parts were summed and applied once: w0 moved by lr × (parts × 1e-3), the refused part not.
            let moved = zip(TestShard.initial(TestShard.w0), floats(try await rank0.pull([TestShard.w0])[0])).map { $0 - $1 }
            #expect(moved.allSatisfy { abs($0 - 0.5 * Float(fit) * 1e-3) < 1e-4 }, "\(moved.prefix(3))")
        }
    }

    @Test func aDroppedWorkerNoLongerHoldsTheRoundBack() async throws {
        try await Self.withBSPServer { rank0, _, handler in
            let first = Task { try await rank0.pushPull([tensor(TestShard.b, Self.g0)], rank: 0) }
            #expect(try await Self.awaitPushes(1, via: rank0))
            handler.mailbox.drop([1])  // as the heartbeat loop does when the coordinator marks rank 1 dead
            let (values, clock) = try await first.value
            #expect(clock == PushPullReply(clock: 0, lag: 0))
            #expect(floats(values[0]) == [-0.5, -1, -1.5], "rank 0's push alone")
            let next = try await rank0.pushPull([tensor(TestShard.b, Self.g0)], rank: 0, last: true)
            #expect(next.clock.clock == 1 && next.values.map(\.header.version) == [2], "rank 0 goes on alone")
        }
    }
}

extension ConsistencyRPCTests {
    /// A pipelined BSP round: each worker sends its clock in two parts (w1, then b closing it), both in flight at
    /// once on the same connection; the round applies once when both workers' last parts are in.
    @Test func bspRoundsOfSeveralPartsPerWorker() async throws {
        try await Self.withBSPServer { rank0, rank1, _ in
            for round in 0..<50 {
                // Started in order on each connection: the part, then the push that closes the clock.
                let calls = [(rank0, UInt32(0)), (rank1, 1)].flatMap { client, rank in
                    [client.startPushPull([tensor(TestShard.w1, Array(repeating: 1, count: 500))], rank: rank, more: true),
                     client.startPushPull([tensor(TestShard.b, Self.g0)], rank: rank)]
                }
                for call in calls {
                    let (values, clock) = try ParameterServerClient.pushPullResult(try await call.value())
                    #expect(clock == PushPullReply(clock: UInt64(round), lag: 0))
                    #expect(values[0].header.version == UInt64(round + 1), "one update per round and key")
                }
            }
            #expect(try await rank0.pull([TestShard.b, TestShard.w1]).map(\.header.version) == [50, 50])
        }
    }
}
