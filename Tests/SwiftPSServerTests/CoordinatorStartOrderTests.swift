import Testing
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSCoordinator

/// Nodes may start in any order (DESIGN.md, "Roles and processes"). These transcripts start them far apart.
/// Every node heartbeats from the moment it registers, also while it waits for the shard map.
@Suite struct CoordinatorStartOrderTests {
    /// The worker's "trained" barrier promises that every worker's last push is in before anyone reads the final
    /// model; a worker that has not registered yet must hold the barrier too.
    @Test func barrierWaitsForWorkersThatHaveNotRegisteredYet() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        _ = try t.register(.server, peer: 1)
        _ = try t.register(.server, peer: 2)
        _ = try t.register(.worker, peer: 3)
        let early = t.send(.barrier, BarrierRequest(name: "trained", nodeID: 3), from: 3)
        #expect(early.replies.isEmpty, "released with \(early.replies.count) of 2 workers")
        _ = try t.register(.worker, peer: 4)
        let late = t.send(.barrier, BarrierRequest(name: "trained", nodeID: 4), from: 4)
        #expect(late.replies.count == 2)
    }

    /// A server that waits longer than the heartbeat timeout for the other servers stays alive by heartbeating.
    @Test func serverWaitingForTheOtherServersStaysAlive() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)  // heartbeat timeout 1000 ms
        _ = try t.register(.server, peer: 1)
        for ms in stride(from: 100, through: 1500, by: 100) {
            _ = t.tick(at: ms)
            #expect(try t.call(.getShardMap, from: 1, expecting: ShardMap.self).ready == false)
            if ms % 300 == 0 { #expect(try t.heartbeat(1, peer: 1).jobFinished == false) }
        }
        _ = try t.register(.server, peer: 2)
        #expect(try t.call(.getShardMap, from: 1, expecting: ShardMap.self).ready)
        #expect(try t.status().nodes.first?.state == .alive)
    }

    /// A node that registers and then says nothing is dropped after the timeout, shard map or not.
    @Test func silentNodeIsDroppedWhileWaiting() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        _ = try t.register(.server, peer: 1)
        _ = t.tick(at: 1500)
        #expect(try t.status().nodes.first?.state == .dead)
        let beat = t.send(.heartbeat, HeartbeatRequest(nodeID: 1), from: 1).replies.first
        #expect(beat?.status == .failedPrecondition)
    }

    /// Workers started well before the servers keep the job open by heartbeating while they wait.
    @Test func workersWaitingForTheServersDoNotEndTheJob() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        _ = try t.register(.worker, peer: 3)
        _ = try t.register(.worker, peer: 4)
        for ms in stride(from: 300, through: 1500, by: 300) {
            _ = try t.heartbeat(1, peer: 3)
            _ = try t.heartbeat(2, peer: 4)
            _ = t.tick(at: ms)
        }
        #expect(!t.handler.jobFinished, "no server has even registered")
        #expect(try t.register(.server, peer: 1).nodeID == 3)
        _ = try t.register(.server, peer: 2)
        #expect(try t.heartbeat(3, peer: 1).jobFinished == false, "a fresh server is told to leave")
    }

    /// Register without an instance token cannot be told apart from a retry: refused.
    @Test func registerNeedsAnInstanceToken() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        let reply = t.send(.register, RegisterRequest(role: .worker, address: "", instance: ""), from: 9).replies.first
        #expect(reply?.status == .invalidArgument)
        #expect(try t.status().nodes.isEmpty)
    }
}
