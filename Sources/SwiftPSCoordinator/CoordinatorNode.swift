import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport

/// Runs `swiftps coordinator`: serves the Coordinator service until the job is over (or shutdown is requested).
public enum CoordinatorNode {
    /// Binds, prints `listening ENDPOINT` on standard output, and serves.
    /// - Returns: once every server has left after the job ended, or on shutdown.
    public static func run(bind: String, job: JobConfig, security: TransportSecurity = .open, shutdown: Shutdown,
                           log: Log) async throws {
        let context = ZMQContext()
        let handler = CoordinatorHandler(job: job, log: log)
        let done = DoneFlag()
        security.logIfOpen(log)
        let server = try RPCServer(context: context, bind: bind, security: security, log: log,
                                   handler: WatchedHandler(handler, done: done))
        emit("listening \(server.endpoint)")
        let space = job.tensors.isEmpty ? "declared by the first client" : "\(job.tensors.count) tensors, \(job.tensors.reduce(0) { $0 + $1.count }) elements"
        log.info("listening on \(server.endpoint): \(job.servers) servers, \(job.workers) workers, parameter space \(space)")
        while !done.isSet {
            guard await shutdown.sleep(for: .milliseconds(50)) else {
                log.info("shutdown requested")
                break
            }
        }
        await server.stop()
        log.info("coordinator exiting")
    }
}

/// Publishes the handler's `isDone` to the main task after every call on the socket thread.
final class WatchedHandler: RPCHandler {
    let inner: CoordinatorHandler
    let done: DoneFlag

    init(_ inner: CoordinatorHandler, done: DoneFlag) {
        self.inner = inner
        self.done = done
    }

    func handle(_ request: IncomingRequest) -> [OutgoingReply] {
        defer { if inner.isDone { done.set() } }
        return inner.handle(request)
    }

    func tick(now: ContinuousClock.Instant) -> [OutgoingReply] {
        defer { if inner.isDone { done.set() } }
        return inner.tick(now: now)
    }
}

import Synchronization

/// A one-way flag set on one thread and read on another.
final class DoneFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
