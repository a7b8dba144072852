import Testing
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSCoordinator

@Suite struct CoordinatorLifecycleTests {
    static func participants(_ reply: OutgoingReply) throws -> UInt32 {
        #expect(reply.status == .ok)
        return try BarrierReply(decoding: reply.body).participants
    }

    @Test func barrierReleasesWhenBothWorkersArrive() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        try t.registerAll()
        let first = t.send(.barrier, BarrierRequest(name: "start", nodeID: 3), from: 3)
        #expect(first.replies.isEmpty, "worker 3 waits")
        #expect(t.tick(at: 100).isEmpty, "still waiting")
        let second = t.send(.barrier, BarrierRequest(name: "start", nodeID: 4), from: 4)
        #expect(Set(second.replies.map(\.route)) == [first.route, second.route])
        #expect(try second.replies.map(Self.participants) == [2, 2])

        // The same name can be used again, and arrival order does not matter.
        #expect(t.send(.barrier, BarrierRequest(name: "start", nodeID: 4), from: 4).replies.isEmpty)
        #expect(t.send(.barrier, BarrierRequest(name: "other", nodeID: 3), from: 3).replies.isEmpty,
                "a different barrier is independent")
        #expect(t.send(.barrier, BarrierRequest(name: "start", nodeID: 3), from: 3).replies.count == 2)
    }

    @Test func silentWorkerIsMarkedDeadAndTheBarrierGoesOnWithoutIt() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)  // heartbeat timeout 1000 ms
        try t.registerAll()
        _ = t.tick(at: 500)
        for (id, peer) in [(1, 1), (2, 2), (3, 3)] as [(UInt32, UInt8)] {
            #expect(try t.heartbeat(id, peer: peer).jobFinished == false)
        }
        let waiting = t.send(.barrier, BarrierRequest(name: "trained", nodeID: 3), from: 3)
        #expect(waiting.replies.isEmpty)
        #expect(t.tick(at: 1000).isEmpty, "exactly the timeout is not yet late")
        #expect(try t.status().nodes.allSatisfy { $0.state == .alive })

        let released = t.tick(at: 1001)  // worker 4 last heard at 0
        #expect(released.map(\.route) == [waiting.route])
        #expect(try released.map(Self.participants) == [1])
        #expect(try t.status().nodes.map(\.state) == [.alive, .alive, .alive, .dead])
        #expect(t.refusal(.heartbeat, HeartbeatRequest(nodeID: 4), from: 4) == .failedPrecondition)
        #expect(try t.heartbeat(1, peer: 1).droppedWorkers == [1], "servers hear the dead worker's rank")
        #expect(try t.heartbeat(3, peer: 3).droppedWorkers == [], "workers are not told")
    }

    @Test func aJoinedWorkerTakesPartInBarriersAndTheJobWaitsForIt() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        try t.registerAll()
        let joiner = try t.register(.worker, peer: 5)
        #expect(joiner.rank == 2)
        let first = t.send(.barrier, BarrierRequest(name: "trained", nodeID: 3), from: 3)
        let second = t.send(.barrier, BarrierRequest(name: "trained", nodeID: 4), from: 4)
        #expect(first.replies.isEmpty && second.replies.isEmpty, "the joined worker is still training")
        let third = t.send(.barrier, BarrierRequest(name: "trained", nodeID: 5), from: 5)
        #expect(try third.replies.map(Self.participants) == [3, 3, 3])
        for (id, peer) in [(3, 3), (4, 4)] as [(UInt32, UInt8)] {
            _ = try t.call(.finish, FinishRequest(nodeID: id), from: peer, expecting: Empty.self)
        }
        #expect(!t.handler.jobFinished, "the joined worker has not finished")
        _ = try t.call(.finish, FinishRequest(nodeID: 5), from: 5, expecting: Empty.self)
        #expect(t.handler.jobFinished)
        #expect(t.refusal(.register, RegisterRequest(role: .worker, address: "", instance: "late"), from: 6)
                == .failedPrecondition, "no worker joins a finished job")
    }

    @Test func jobEndsWhenBothWorkersFinishAndServersLeaveOnHeartbeat() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        try t.registerAll()
        _ = try t.call(.finish, FinishRequest(nodeID: 3), from: 3, expecting: Empty.self)
        #expect(!t.handler.jobFinished)
        #expect(try t.heartbeat(1, peer: 1).jobFinished == false)
        _ = try t.call(.finish, FinishRequest(nodeID: 4), from: 4, expecting: Empty.self)
        #expect(t.handler.jobFinished)
        #expect(!t.handler.isDone, "servers are still up")

        #expect(try t.heartbeat(1, peer: 1).jobFinished)
        #expect(!t.handler.isDone)
        #expect(try t.heartbeat(2, peer: 2).jobFinished)
        #expect(t.handler.isDone)
        let status = try t.status()
        #expect(status.jobFinished)
        #expect(status.nodes.map(\.state) == [.finished, .finished, .finished, .finished])
    }

    @Test func jobEndsWithADeadWorkerAndADeadServer() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        try t.registerAll()
        _ = t.tick(at: 600)
        _ = try t.heartbeat(1, peer: 1)
        _ = try t.heartbeat(3, peer: 3)
        _ = t.tick(at: 1200)  // worker 4 and server 2 are dead
        #expect(!t.handler.jobFinished)
        _ = try t.call(.finish, FinishRequest(nodeID: 3), from: 3, expecting: Empty.self)
        #expect(t.handler.jobFinished)
        #expect(try t.heartbeat(1, peer: 1).jobFinished)
        #expect(t.handler.isDone)
    }

    @Test func jobDoesNotEndBeforeEveryWorkerRegistered() throws {
        let t = CoordinatorTranscript(job: CoordinatorTranscript.job)
        _ = try t.register(.server, peer: 1)
        _ = try t.register(.server, peer: 2)
        _ = try t.register(.worker, peer: 3)
        _ = try t.call(.finish, FinishRequest(nodeID: 3), from: 3, expecting: Empty.self)
        #expect(!t.handler.jobFinished)
        _ = try t.register(.worker, peer: 4)
        _ = try t.call(.finish, FinishRequest(nodeID: 4), from: 4, expecting: Empty.self)
        #expect(t.handler.jobFinished)
    }
}
