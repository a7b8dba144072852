import Testing
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSCoordinator

/// Drives a `CoordinatorHandler` as its socket thread would, with a clock the test moves by hand.
///
/// Peers are named by one byte (their ZeroMQ routing id); every request gets a fresh request id, so a reply's
/// route says exactly which request it answers.
final class CoordinatorTranscript {
    let handler: CoordinatorHandler
    let start: ContinuousClock.Instant
    private var nextRequest: UInt64 = 1

    init(job: JobConfig) {
        start = .now
        handler = CoordinatorHandler(job: job, log: Log("coordinator-test"), now: start)
    }

    /// The job used by most scenarios: 2 servers, 2 workers, a small model, 1 s heartbeat timeout.
    static var job: JobConfig {
        var job = JobConfig()
        job.servers = 2
        job.workers = 2
        job.tensors = [TensorSpec(name: "layers.0.weight", shape: [8, 16], initializer: .heNormal),
                       TensorSpec(name: "layers.0.bias", shape: [16]),
                       TensorSpec(name: "layers.1.weight", shape: [16, 4], initializer: .heNormal),
                       TensorSpec(name: "layers.1.bias", shape: [4])]
        job.chunkElements = 32
        job.heartbeatTimeoutMs = 1000
        return job
    }

    /// Sends a request from `peer`; returns the route it was sent with and the handler's replies.
    @discardableResult
    func send(_ methodRaw: Int, body: [UInt8], from peer: UInt8) -> (route: Route, replies: [OutgoingReply]) {
        let route = Route(identity: [peer], requestID: nextRequest, method: methodRaw)
        nextRequest += 1
        let envelope = Envelope(requestID: route.requestID, methodRaw: methodRaw, timeoutMs: 1000, status: .ok,
                                statusMessage: "", body: body, tensors: [])
        return (route, handler.handle(IncomingRequest(route: route, envelope: envelope, byteCount: body.count)))
    }

    @discardableResult
    func send(_ method: Method, _ body: some WireMessage = Empty(), from peer: UInt8) -> (route: Route, replies: [OutgoingReply]) {
        send(method.rawValue, body: body.encoded(), from: peer)
    }

    /// Sends a request that must be answered at once with OK; returns the decoded reply.
    func call<R: WireMessage>(_ method: Method, _ body: some WireMessage = Empty(), from peer: UInt8,
                              expecting: R.Type) throws -> R {
        let (route, replies) = send(method, body, from: peer)
        let reply = try #require(replies.count == 1 ? replies[0] : nil, "\(method): \(replies.count) replies")
        #expect(reply.route == route)
        #expect(reply.status == .ok, "\(method): \(reply.message)")
        return try R(decoding: reply.body)
    }

    /// Sends a request that must be refused at once; returns the status.
    func refusal(_ methodRaw: Int, body: [UInt8], from peer: UInt8) -> StatusCode? {
        let (route, replies) = send(methodRaw, body: body, from: peer)
        guard replies.count == 1, replies[0].route == route, replies[0].body.isEmpty, !replies[0].message.isEmpty else {
            return nil
        }
        return replies[0].status
    }

    func refusal(_ method: Method, _ body: some WireMessage = Empty(), from peer: UInt8) -> StatusCode? {
        refusal(method.rawValue, body: body.encoded(), from: peer)
    }

    func register(_ role: Role, peer: UInt8, instance: String? = nil) throws -> RegisterReply {
        let address = role == .server ? "tcp://10.0.0.\(peer):7000" : ""
        let request = RegisterRequest(role: role, address: address, instance: instance ?? "instance-\(peer)")
        return try call(.register, request, from: peer, expecting: RegisterReply.self)
    }

    func heartbeat(_ nodeID: UInt32, peer: UInt8, clock: UInt64 = 0) throws -> HeartbeatReply {
        try call(.heartbeat, HeartbeatRequest(nodeID: nodeID, clock: clock), from: peer, expecting: HeartbeatReply.self)
    }

    func status() throws -> ClusterStatusReply {
        try call(.clusterStatus, from: 99, expecting: ClusterStatusReply.self)
    }

    /// Moves the clock to `ms` after the start and ticks.
    func tick(at ms: Int) -> [OutgoingReply] { handler.tick(now: start + .milliseconds(ms)) }

    /// Registers servers on peers 1, 2 (ids 1, 2) and workers on peers 3, 4 (ids 3, 4).
    func registerAll() throws {
        for peer: UInt8 in [1, 2] { _ = try register(.server, peer: peer) }
        for peer: UInt8 in [3, 4] { _ = try register(.worker, peer: peer) }
    }
}
