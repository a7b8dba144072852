import Foundation
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport

/// The Coordinator service as seen by servers, workers and `swiftps status`: typed calls, retries where they belong.
public final class CoordinatorClient: Sendable {
    public let endpoint: String
    private let rpc: RPCClient

    public init(context: ZMQContext, endpoint: String, security: TransportSecurity = .open) throws(SwiftPSError) {
        self.endpoint = endpoint
        rpc = try RPCClient(context: context, endpoint: endpoint, security: security)
    }

    public func close() async { await rpc.close() }

    /// Fails the calls in flight at once (see `RPCClient.abort`).
    public func abort() { rpc.abort() }

    /// Registers, retrying with backoff until the coordinator answers (nodes may start before it does).
    /// - Throws: UNAVAILABLE naming the address when nothing answered within `connectTimeout`, CANCELLED on shutdown.
    public func register(role: Role, address: String, connectTimeout: Duration, shutdown: Shutdown,
                         log: Log) async throws -> RegisterReply {
        let request = RegisterRequest(role: role, address: address, instance: UUID().uuidString)
        let deadline = ContinuousClock.now + connectTimeout
        var backoff = Duration.milliseconds(100)
        var attempt = 1
        while true {
            do {
                let left = deadline - ContinuousClock.now
                let reply = try await rpc.call(.register, request, timeout: min(max(left, .milliseconds(100)), .seconds(2)))
                return try reply.body(RegisterReply.self)
            } catch let error as SwiftPSError where error.code == .deadlineExceeded || error.code == .unavailable {
                guard ContinuousClock.now + backoff < deadline else {
                    throw SwiftPSError(.unavailable,
                                       "no coordinator answered at \(endpoint) within \(connectTimeout) (\(attempt) attempts)")
                }
                log.info("coordinator at \(endpoint) not answering (attempt \(attempt)); retrying in \(backoff)")
                guard await shutdown.sleep(for: backoff) else { throw SwiftPSError(.cancelled, "shutting down") }
                backoff = min(backoff * 2, .seconds(2))
                attempt += 1
            }
        }
    }

    /// Polls until every expected server has registered and the shard map is final.
    public func waitForShardMap(shutdown: Shutdown, log: Log) async throws -> ShardMap {
        var polls = 0
        while true {
            let map = try await rpc.call(.getShardMap, timeout: .seconds(10)).body(ShardMap.self)
            if map.ready { return map }
            if polls % 50 == 0 { log.info("waiting for the servers to register and the parameter space") }
            polls += 1
            guard await shutdown.sleep(for: .milliseconds(100)), !Task.isCancelled else {
                throw SwiftPSError(.cancelled, "stopped waiting for the shard map")
            }
        }
    }

    public func heartbeat(_ request: HeartbeatRequest, timeout: Duration = .seconds(2)) async throws -> HeartbeatReply {
        try await rpc.call(.heartbeat, request, timeout: timeout).body(HeartbeatReply.self)
    }

    /// Waits until every live worker has reached the barrier `name`.
    public func barrier(_ name: String, nodeID: UInt32, timeout: Duration = .seconds(600)) async throws -> BarrierReply {
        try await rpc.call(.barrier, BarrierRequest(name: name, nodeID: nodeID), timeout: timeout).body(BarrierReply.self)
    }

    public func finish(nodeID: UInt32, timeout: Duration = .seconds(5)) async throws {
        _ = try await rpc.call(.finish, FinishRequest(nodeID: nodeID), timeout: timeout)
    }

    /// Declares the job's parameter space (or checks it against the one in force); returns the space in force.
    public func declare(_ tensors: [TensorSpec]) async throws -> [TensorSpec] {
        try await rpc.call(.declareTensors, DeclareTensors(tensors: tensors), timeout: .seconds(10))
            .body(DeclareTensors.self).tensors
    }

    public func clusterStatus(timeout: Duration = .seconds(5)) async throws -> ClusterStatusReply {
        try await rpc.call(.clusterStatus, timeout: timeout).body(ClusterStatusReply.self)
    }
}
