import Testing
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSCoordinator

@Suite struct CoordinatorMembershipTests {
    @Test func registrationGivesIdsRanksAndTheJob() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        #expect(t.refusal(.register, RegisterRequest(role: .server, address: "", instance: "x"), from: 9) == .invalidArgument,
                "a server without an address")

        let s1 = try t.register(.server, peer: 1)
        #expect((s1.nodeID, s1.rank) == (1, 0))
        #expect(s1.job == CoordinatorTranscript.job)
        let w1 = try t.register(.worker, peer: 3)
        #expect((w1.nodeID, w1.rank) == (2, 0))
        let s2 = try t.register(.server, peer: 2)
        #expect((s2.nodeID, s2.rank) == (3, 1))

        let retry = try t.register(.worker, peer: 3)
        #expect((retry.nodeID, retry.rank) == (2, 0), "a retried Register with the same instance is the same node")
        let w2 = try t.register(.worker, peer: 4)
        #expect((w2.nodeID, w2.rank) == (4, 1))

        #expect(t.refusal(.register, RegisterRequest(role: .server, address: "tcp://x:1", instance: "s3"), from: 6) == .failedPrecondition)
        #expect(try t.register(.worker, peer: 4).nodeID == 4, "a retry still works once the job is full")
        let joiner = try t.register(.worker, peer: 5)
        #expect((joiner.nodeID, joiner.rank) == (5, 2), "a third worker joins the running job with the next rank")

        let nodes = try t.status().nodes
        #expect(nodes.map(\.id) == [1, 2, 3, 4, 5])
        #expect(nodes.map(\.role) == [.server, .worker, .server, .worker, .worker])
        #expect(nodes.map(\.rank) == [0, 0, 1, 1, 2])
        #expect(nodes.map(\.address) == ["tcp://10.0.0.1:7000", "", "tcp://10.0.0.2:7000", "", ""])
        #expect(nodes.allSatisfy { $0.state == .alive })
    }

    @Test func shardMapIsReadyOnceTheLastServerRegisters() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        #expect(try t.call(.getShardMap, from: 3, expecting: ShardMap.self) == ShardMap(ready: false))
        _ = try t.register(.server, peer: 1)
        _ = try t.register(.worker, peer: 3)
        #expect(try t.call(.getShardMap, from: 3, expecting: ShardMap.self).ready == false)

        _ = try t.register(.server, peer: 2)
        let map = try t.call(.getShardMap, from: 3, expecting: ShardMap.self)
        let job = CoordinatorTranscript.job
        #expect(map.ready)
        #expect(map.servers.map(\.id) == [1, 3])
        #expect(map.servers.map(\.address) == ["tcp://10.0.0.1:7000", "tcp://10.0.0.2:7000"])
        #expect(map.tensors == job.tensors)
        // [8, 16, 4] in chunks of 32: 128 → 4 chunks, 16 → 1, 64 → 2, 4 → 1.
        #expect(map.chunks.count == 8)
        #expect(map.chunks == Placement.chunks(tensors: job.tensors, chunkElements: 32, servers: [1, 3]))
        #expect(Set(map.chunks.map(\.server)) == [1, 3])
    }

    @Test func clusterStatusReportsClocksAndHeartbeatAges() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        try t.registerAll()
        _ = t.tick(at: 300)
        _ = try t.heartbeat(3, peer: 3, clock: 12)
        _ = t.tick(at: 700)
        let nodes = try t.status().nodes
        #expect(nodes.map(\.clock) == [0, 0, 12, 0])
        #expect(nodes.map(\.millisSinceHeartbeat) == [700, 700, 400, 700])
        #expect(try t.status().jobFinished == false)
    }

    @Test func refusals() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        try t.registerAll()
        #expect(t.refusal(99, body: [], from: 3) == .unimplemented, "unknown method number")
        #expect(t.refusal(.push, from: 3) == .unimplemented, "a ParameterServer method")
        #expect(t.refusal(Method.register.rawValue, body: [0xFF, 0xFF, 0xFF], from: 3) == .invalidArgument)
        #expect(t.refusal(Method.heartbeat.rawValue, body: [0xFF, 0xFF, 0xFF], from: 3) == .invalidArgument)
        #expect(t.refusal(Method.getShardMap.rawValue, body: [0xFF, 0xFF, 0xFF], from: 3) == .invalidArgument)
        #expect(t.refusal(Method.clusterStatus.rawValue, body: [0x0A], from: 3) == .invalidArgument)
        #expect(t.refusal(.heartbeat, HeartbeatRequest(nodeID: 42), from: 3) == .notFound)
        #expect(t.refusal(.finish, FinishRequest(nodeID: 42), from: 3) == .notFound)
        #expect(t.refusal(.barrier, BarrierRequest(name: "b", nodeID: 42), from: 3) == .notFound)
        #expect(t.refusal(.barrier, BarrierRequest(name: "b", nodeID: 1), from: 1) == .failedPrecondition, "servers take no barriers")
        #expect(try t.status().nodes.count == 4, "refusals changed nothing")
    }
}
