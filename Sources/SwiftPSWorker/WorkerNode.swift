import Synchronization
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSCoordinator
import SwiftPSServer
import SwiftPSModel

/// How to run one worker.
public struct WorkerOptions: Sendable {
    public var coordinator: String
    public var connectTimeout: Duration
    /// Print a progress line every this many steps.
    public var progressEvery: Int
    /// Where to write the metrics file (JSON lines, see `MetricsLog`); nil: none.
    public var metricsFile: String?
    /// With a metrics file: evaluate on the held-out set every this many steps (0: only at the end).
    public var evalEvery: Int
    /// The swiftps version, for the metrics file's header; nil when unknown.
    public var version: String?
    /// Keys for the coordinator and servers of a secured cluster.
    public var security: TransportSecurity = .open

    public init(coordinator: String, connectTimeout: Duration = .seconds(30), progressEvery: Int = 20,
                metricsFile: String? = nil, evalEvery: Int = 0, version: String? = nil) {
        self.coordinator = coordinator
        self.connectTimeout = connectTimeout
        self.progressEvery = progressEvery
        self.metricsFile = metricsFile
        self.evalEvery = evalEvery
        self.version = version
    }
}

/// What a training run reached.
public struct TrainingResult: Sendable {
    public var accuracy: Double
    public var loss: Double
    public var samples: Int
    public var seconds: Double
    /// `ModelDigest` of the final weights; nil for the standalone trainer.
    public var modelDigest: String?
    /// Where a distributed worker's time went; nil for the standalone trainer.
    public var times: TimeSplit?
    public var samplesPerSecond: Double { Double(samples) / max(seconds, 1e-9) }

    /// One JSON object, as `swiftps local` and scripts read it.
    public var json: String {
        let digest = modelDigest.map { #","model_digest":"\#($0)""# } ?? ""
        let split = times.map { #","compute_ms":\#($0.computeMs),"push_ms":\#($0.pushMs),"pull_ms":\#($0.pullMs),"wait_ms":\#($0.waitMs)"# } ?? ""
        return #"{"accuracy":\#(accuracy),"loss":\#(loss),"samples":\#(samples),"seconds":\#(seconds),"samples_per_second":\#(samplesPerSecond)\#(digest)\#(split)}"#
    }
}

/// Runs `swiftps worker`: attaches through the coordinator, trains its part of the data against the servers,
/// then evaluates the final model on the held-out set.
public enum WorkerNode {
    public static func run(_ options: WorkerOptions, shutdown: Shutdown, log: Log) async throws -> TrainingResult {
        // Opened first: a bad path fails before the worker joins the job.
        let metrics = try options.metricsFile.map { try MetricsLog(path: $0, log: log) }
        let context = ZMQContext()
        options.security.logIfOpen(log)
        let coordinator = try CoordinatorClient(context: context, endpoint: options.coordinator, security: options.security)
        var servers: [UInt32: ParameterServerClient] = [:]
        let lost = LostCoordinator()
        do {
            let result = try await train(options, context, coordinator, &servers, metrics, shutdown, lost, log)
            for client in servers.values { await client.close() }
            await coordinator.close()
            return result
        } catch {
            for client in servers.values { await client.close() }
            await coordinator.close()
            if let reason = lost.reason.withLock({ $0 }) { throw reason }
            if shutdown.isRequested, !((error as? SwiftPSError)?.code == .cancelled) {
                throw SwiftPSError(.cancelled, "shutdown requested (\(error))")
            }
            throw error
        }
    }

    private static func train(_ options: WorkerOptions, _ context: ZMQContext, _ coordinator: CoordinatorClient,
                              _ servers: inout [UInt32: ParameterServerClient], _ metrics: MetricsLog?, _ shutdown: Shutdown,
                              _ lost: LostCoordinator, _ baseLog: Log) async throws -> TrainingResult {
        let registration = try await coordinator.register(role: .worker, address: "", connectTimeout: options.connectTimeout,
                                                          shutdown: shutdown, log: baseLog)
        let job = registration.job, id = registration.nodeID, rank = Int(registration.rank)
        var log = baseLog
        log.name = "worker \(id)"
        // Heartbeats start at once: waiting for the servers must not look like death. A worker the coordinator has
        // dropped (or lost) stops at once rather than waiting out its calls' deadlines.
        let heartbeat = Heartbeat(coordinator: coordinator, nodeID: id,
                                  interval: .milliseconds(max(100, job.heartbeatTimeoutMs / 5)),
                                  giveUp: .milliseconds(job.heartbeatTimeoutMs * 3)) { error in
            lost.reason.withLock { $0 = error }
            shutdown.request()  // aborts the calls in flight, as a signal would
        }
        heartbeat.start()
        defer { heartbeat.stop() }
        let map = try await coordinator.waitForShardMap(shutdown: shutdown, log: log)
        for server in map.servers {
            servers[server.id] = try ParameterServerClient(context: context, endpoint: server.address,
                                                           security: options.security,
                                                           maxPayloadInFlight: ParameterExchange.maxPayloadInFlight(job),
                                                           releaseWhenTaken: ParameterExchange.takesInOrder(job))
        }
        // On shutdown the servers may leave first: fail the exchange (or barrier) in flight now, not at its deadline.
        let clients = Array(servers.values)
        shutdown.onRequest {
            for client in clients { client.abort() }
            coordinator.abort()
        }
        let plan = job.plan
        let model = try Models.make(plan.model, maxBatch: plan.batchSize)
        try model.requireSpace(map.tensors)
        let (train, test) = try JobData.load(job, inputs: model.inputs, classes: model.classes)
        // A worker that joined a running job (rank ≥ workers) trains on the part of rank mod workers, in its own order.
        let shard = train.shard(rank: rank % job.workers, of: job.workers)
        let exchange = ParameterExchange(model: model, chunks: map.chunks, clients: servers, rank: UInt32(rank),
                                         dtype: job.wireDType, compression: plan.compression,
                                         maxInflight: plan.maxInflight,
                                         pushPullTimeout: job.consistency == .async ? .seconds(30) : .seconds(120))
        let sampler = BatchSampler(data: shard, batchSize: plan.batchSize, seed: job.seed ^ UInt64(rank + 1) << 40)
        let loop = TrainingLoop(job: job, rank: rank, model: model, exchange: exchange, sampler: sampler, test: test,
                                heartbeat: heartbeat, metrics: metrics, options: options)
        guard loop.steps > 0 else {
            throw SwiftPSError(.invalidArgument, "rank \(rank)'s part of the data has \(shard.count) samples, fewer than one push of \(plan.accumulate) × \(plan.batchSize)")
        }
        log.info("rank \(rank): \(shard.count) samples, \(loop.steps) steps of \(plan.accumulate) × \(plan.batchSize) (micro-batches \(plan.microBatches), max in flight \(plan.maxInflight), \(job.consistency)) over \(map.servers.count) servers")
        metrics?.header(job: job, rank: rank, nodeID: id, version: options.version,
                        parameters: model.tensors.reduce(0) { $0 + $1.count }, steps: loop.steps)

        let last = try await loop.run(shutdown: shutdown)
        let clock = ContinuousClock()
        let seconds = (clock.now - loop.start).seconds
        let step = loop.step
        if shutdown.isRequested { throw SwiftPSError(.cancelled, "shutdown requested at step \(step) of \(loop.steps)") }
        // Every worker's last push is in before anyone reads the final model.
        let barrierStart = clock.now
        _ = try await coordinator.barrier("trained", nodeID: id)
        let pullStart = clock.now
        try await exchange.pullAll()
        var split = loop.totals
        split.waitMs += (pullStart - barrierStart).fractionalMilliseconds
        split.pullMs += (clock.now - pullStart).fractionalMilliseconds
        if var record = last {
            record.waitMs += (pullStart - barrierStart).fractionalMilliseconds
            record.pullMs += (clock.now - pullStart).fractionalMilliseconds
            record.add(exchange.takeStats())
            metrics?.step(record)
        }
        let evalStart = clock.now
        let (testLoss, accuracy) = model.evaluate(test)
        metrics?.eval(step: step, accuracy: accuracy, loss: testLoss,
                      milliseconds: (clock.now - evalStart).fractionalMilliseconds)
        try await coordinator.finish(nodeID: id)
        log.info("held-out accuracy \(accuracy) after \(step) steps in \(seconds) s")
        let times = TimeSplit(computeMs: split.computeMs + split.dataMs, pushMs: split.pushMs, pullMs: split.pullMs,
                              waitMs: split.waitMs)
        log.info("where the time went:\n\(times.table)")
        return TrainingResult(accuracy: accuracy, loss: testLoss, samples: step * loop.samplesPerStep, seconds: seconds,
                              modelDigest: ModelDigest.of(model.parameters.map { UnsafeBufferPointer($0.buffer) }),
                              times: times)
    }
}


/// Why a worker stopped on its own: the coordinator dropped it or stopped answering (set by its heartbeat).
final class LostCoordinator: Sendable {
    let reason = Mutex<SwiftPSError?>(nil)
}

extension WorkerNode {
    /// One BLAS thread per worker: the machine's cores are shared by every process of the job.
    public static func configureMath() { MLP.setBLASThreads(1) }
}
