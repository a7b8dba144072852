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

    public init(coordinator: String, connectTimeout: Duration = .seconds(30), progressEvery: Int = 20) {
        self.coordinator = coordinator
        self.connectTimeout = connectTimeout
        self.progressEvery = progressEvery
    }
}

/// What a training run reached.
public struct TrainingResult: Sendable {
    public var accuracy: Double
    public var loss: Double
    public var samples: Int
    public var seconds: Double
    public var samplesPerSecond: Double { Double(samples) / max(seconds, 1e-9) }

    /// One JSON object, as `swiftps local` and scripts read it.
    public var json: String {
        #"{"accuracy":\#(accuracy),"loss":\#(loss),"samples":\#(samples),"seconds":\#(seconds),"samples_per_second":\#(samplesPerSecond)}"#
    }
}

/// Runs `swiftps worker`: attaches through the coordinator, trains its part of the data against the servers,
/// then evaluates the final model on the held-out set.
public enum WorkerNode {
    public static func run(_ options: WorkerOptions, shutdown: Shutdown, log: Log) async throws -> TrainingResult {
        let context = ZMQContext()
        let coordinator = try CoordinatorClient(context: context, endpoint: options.coordinator)
        var servers: [UInt32: ParameterServerClient] = [:]
        do {
            let result = try await train(options, context, coordinator, &servers, shutdown, log)
            for client in servers.values { await client.close() }
            await coordinator.close()
            return result
        } catch {
            for client in servers.values { await client.close() }
            await coordinator.close()
            throw error
        }
    }

    private static func train(_ options: WorkerOptions, _ context: ZMQContext, _ coordinator: CoordinatorClient,
                              _ servers: inout [UInt32: ParameterServerClient], _ shutdown: Shutdown,
                              _ baseLog: Log) async throws -> TrainingResult {
        let registration = try await coordinator.register(role: .worker, address: "", connectTimeout: options.connectTimeout,
                                                          shutdown: shutdown, log: baseLog)
        let job = registration.job, id = registration.nodeID, rank = Int(registration.rank)
        var log = baseLog
        log.name = "worker \(id)"
        // Heartbeats start at once: waiting for the servers must not look like death.
        let heartbeat = Heartbeat(coordinator: coordinator, nodeID: id, interval: .milliseconds(max(100, job.heartbeatTimeoutMs / 5)))
        heartbeat.start()
        defer { heartbeat.stop() }
        let map = try await coordinator.waitForShardMap(shutdown: shutdown, log: log)
        for server in map.servers {
            servers[server.id] = try ParameterServerClient(context: context, endpoint: server.address)
        }
        let (train, test) = TeacherTask.make(seed: job.seed, inputs: job.layerSizes.first!, classes: job.layerSizes.last!,
                                             train: job.trainSamples, test: job.testSamples)
        let shard = train.shard(rank: rank, of: job.workers)
        let model = MLP(layerSizes: job.layerSizes, maxBatch: job.batchSize)
        let exchange = ParameterExchange(model: model, chunks: map.chunks, clients: servers, dtype: job.wireDType)
        let sampler = BatchSampler(data: shard, batchSize: job.batchSize, seed: job.seed ^ UInt64(rank + 1) << 40)
        let steps = sampler.batchesPerEpoch * job.epochs
        log.info("rank \(rank): \(shard.count) samples, \(steps) steps of \(job.batchSize) over \(map.servers.count) servers")

        try await exchange.pullAll()
        let start = ContinuousClock.now
        var smoothedLoss: Double?
        var step = 0
        epochs: for epoch in 0..<job.epochs {
            sampler.startEpoch(epoch)
            for batch in 0..<sampler.batchesPerEpoch {
                if shutdown.isRequested { break epochs }
                sampler.load(batch: batch)
                let loss = Double(model.lossAndGradients(features: sampler.features.pointer, labels: sampler.labels,
                                                         batch: job.batchSize))
                try await exchange.pushPullAll()
                step += 1
                smoothedLoss = smoothedLoss.map { 0.95 * $0 + 0.05 * loss } ?? loss
                let rate = Double(step * job.batchSize) / max(1e-9, (ContinuousClock.now - start).seconds)
                heartbeat.update(clock: UInt64(step), samplesPerSecond: rate)
                if step % options.progressEvery == 0 || step == steps {
                    emit(#"progress {"rank":\#(rank),"step":\#(step),"steps":\#(steps),"epoch":\#(epoch),"loss":\#(smoothedLoss!),"samples_per_second":\#(rate)}"#)
                }
            }
        }
        let seconds = (ContinuousClock.now - start).seconds
        if shutdown.isRequested { throw SwiftPSError(.cancelled, "shutdown requested at step \(step) of \(steps)") }
        // Every worker's last push is in before anyone reads the final model.
        _ = try await coordinator.barrier("trained", nodeID: id)
        try await exchange.pullAll()
        let (testLoss, accuracy) = model.evaluate(test)
        try await coordinator.finish(nodeID: id)
        log.info("held-out accuracy \(accuracy) after \(step) steps in \(seconds) s")
        return TrainingResult(accuracy: accuracy, loss: testLoss, samples: step * job.batchSize, seconds: seconds)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

extension WorkerNode {
    /// One BLAS thread per worker: the machine's cores are shared by every process of the job.
    public static func configureMath() { MLP.setBLASThreads(1) }
}
