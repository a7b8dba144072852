import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSCoordinator

/// How to run one parameter server.
public struct ServerOptions: Sendable {
    public var coordinator: String
    /// Where to listen, e.g. `tcp://*:0` (port 0: any free port).
    public var bind: String
    /// The host other nodes use to reach this server; nil: derived from the bound address (see `AdvertisedAddress`).
    public var advertiseHost: String?
    public var connectTimeout: Duration
    public var limits: RequestLimits
    public var security: TransportSecurity

    public init(coordinator: String, bind: String = "tcp://*:0", advertiseHost: String? = nil,
                connectTimeout: Duration = .seconds(30), limits: RequestLimits = RequestLimits(),
                security: TransportSecurity = .open) {
        self.security = security
        self.coordinator = coordinator
        self.bind = bind
        self.advertiseHost = advertiseHost
        self.connectTimeout = connectTimeout
        self.limits = limits
    }
}

/// Runs `swiftps server`: listens, registers, builds its shard from the job seed, serves, and leaves when the job ends.
public enum ServerNode {
    public static func run(_ options: ServerOptions, shutdown: Shutdown, log: Log) async throws {
        let context = ZMQContext()
        let handler = ParameterServerHandler()
        options.security.logIfOpen(log)
        let server = try RPCServer(context: context, bind: options.bind, limits: options.limits,
                                   security: options.security, log: log, handler: handler)
        let coordinator = try CoordinatorClient(context: context, endpoint: options.coordinator, security: options.security)
        do {
            let address = try AdvertisedAddress.resolve(bound: server.endpoint, host: options.advertiseHost,
                                                        peer: options.coordinator)
            emit("listening \(server.endpoint) advertised \(address)")
            let registration = try await coordinator.register(role: .server, address: address,
                                                              connectTimeout: options.connectTimeout,
                                                              shutdown: shutdown, log: log)
            let id = registration.nodeID, job = registration.job
            handler.counters.nodeID.store(id, ordering: .relaxed)
            var log = log
            log.name = "server \(id)"
            // Heartbeats start now, while the shard map may still be waiting for other servers.
            let counters = handler.counters, mailbox = handler.mailbox
            try await withThrowingTaskGroup(of: Bool.self) { [log] group in
                group.addTask {
                    try await heartbeatUntilDone(coordinator, nodeID: id, job: job, counters: counters,
                                                 mailbox: mailbox, shutdown: shutdown, log: log)
                    return true
                }
                group.addTask {
                    let map = try await coordinator.waitForShardMap(shutdown: shutdown, log: log)
                    let mine = map.chunks.filter { $0.server == id }
                    let store = ParameterStore(chunks: mine, tensors: map.tensors, seed: job.seed,
                                               optimizer: job.optimizer, allowNonFinite: job.allowNonFinite)
                    let elements = store.elements
                    if options.limits.maxQueuedBytes == 0 { server.setMaxQueuedBytes(max(256 << 20, 2 * 4 * elements)) }
                    mailbox.install(store, clocks: ClockTable(consistency: job.consistency, workers: job.workers))
                    // Logged after the install: "serving" is the readiness line that tests and operators wait for.
                    log.info("serving \(mine.count) chunks (\(elements) floats) with \(job.optimizer.kind), \(job.consistency), at \(address)")
                    return false
                }
                // Done when the heartbeats end: the job is over (or shutdown), with or without a shard by then.
                while let heartbeatsEnded = try await group.next() {
                    if heartbeatsEnded {
                        group.cancelAll()
                        return
                    }
                }
            }
        } catch {
            await server.stop()
            await coordinator.close()
            throw error
        }
        await server.stop()
        await coordinator.close()
    }

    /// Heartbeats until the coordinator says the job is over, shutdown is requested, or the coordinator is lost;
    /// passes on the workers the coordinator dropped, so that no clock waits for them.
    static func heartbeatUntilDone(_ coordinator: CoordinatorClient, nodeID: UInt32, job: JobConfig,
                                   counters: ServerCounters, mailbox: ShardMailbox, shutdown: Shutdown,
                                   log: Log) async throws {
        var dropped: Set<UInt32> = []
        let interval = Duration.milliseconds(max(100, job.heartbeatTimeoutMs / 5))
        let giveUp = Duration.milliseconds(job.heartbeatTimeoutMs * 3)
        var lastAnswer = ContinuousClock.now
        var lastPushes: UInt64 = 0
        var lastTime = ContinuousClock.now
        while await shutdown.sleep(for: interval) {
            let pushes = counters.pushes.load(ordering: .relaxed)
            let now = ContinuousClock.now
            let rate = Double(pushes - lastPushes) / max(1e-3, Double((now - lastTime).milliseconds) / 1000)
            (lastPushes, lastTime) = (pushes, now)
            do {
                let reply = try await coordinator.heartbeat(HeartbeatRequest(nodeID: nodeID, clock: pushes,
                                                                              samplesPerSecond: rate))
                lastAnswer = ContinuousClock.now
                let news = reply.droppedWorkers.filter { dropped.insert($0).inserted }
                if !news.isEmpty {
                    log.info("worker ranks \(news) dropped by the coordinator: no clock waits for them")
                    mailbox.drop(news)
                }
                if reply.jobFinished {
                    log.info("job finished; leaving after \(pushes) pushes")
                    return
                }
            } catch let error as SwiftPSError where error.code == .failedPrecondition || error.code == .notFound {
                throw SwiftPSError(.failedPrecondition, "the coordinator dropped this server: \(error.message)")
            } catch {
                if ContinuousClock.now - lastAnswer > giveUp {
                    throw SwiftPSError(.unavailable, "lost the coordinator at \(coordinator.endpoint) for \(giveUp)")
                }
                log.info("heartbeat failed: \(error)")
            }
        }
        log.info("shutdown requested")
    }
}
