import SwiftPSCore
import SwiftPSModel

/// A distributed worker's steps: per step, `accumulate` mini-batches of forward and backward whose mean gradient
/// goes out in one push-pull; then progress, heartbeat and metrics. A step is a push: `steps` and `step` count
/// pushes, not mini-batches.
final class TrainingLoop {
    let job: JobConfig
    let rank: Int
    let model: MLP
    let exchange: ParameterExchange
    let sampler: BatchSampler
    let test: Dataset
    let heartbeat: Heartbeat
    let metrics: MetricsLog?
    let options: WorkerOptions

    /// Pushes so far.
    private(set) var step = 0
    /// When the first step began (after the initial pull).
    private(set) var start = ContinuousClock.now

    init(job: JobConfig, rank: Int, model: MLP, exchange: ParameterExchange, sampler: BatchSampler, test: Dataset,
         heartbeat: Heartbeat, metrics: MetricsLog?, options: WorkerOptions) {
        self.job = job
        self.rank = rank
        self.model = model
        self.exchange = exchange
        self.sampler = sampler
        self.test = test
        self.heartbeat = heartbeat
        self.metrics = metrics
        self.options = options
    }

    /// Pushes per epoch: whole groups of `accumulate` mini-batches (mini-batches left over are skipped).
    var pushesPerEpoch: Int { sampler.batchesPerEpoch / job.accumulate }
    var steps: Int { pushesPerEpoch * job.epochs }
    var samplesPerStep: Int { job.batchSize * job.accumulate }

    /// Pulls the initial model, then runs every step (or until shutdown is requested).
    /// - Returns: the last step's record, not yet written: the end of training (barrier, final pull) belongs to it.
    ///   Nil when no step ran to the end.
    func run(shutdown: Shutdown) async throws -> StepRecord? {
        // A signal while the data was being made: the servers may be gone already, so do not wait on them.
        if shutdown.isRequested { return nil }
        let clock = ContinuousClock()
        var carried = StepRecord()  // what happens before a step and belongs to it: the initial pull, for step 1
        let pullStart = clock.now
        carried.add(try await exchange.initialPull())
        carried.pullMs = (clock.now - pullStart).fractionalMilliseconds
        start = clock.now
        var smoothedLoss: Double?
        let parts = job.accumulate
        for epoch in 0..<job.epochs {
            sampler.startEpoch(epoch)
            for push in 0..<pushesPerEpoch {
                if shutdown.isRequested { return nil }
                var record = carried
                carried = StepRecord()
                record.epoch = epoch
                let stepStart = clock.now
                var lossSum = 0.0
                for part in 0..<parts {
                    let loadStart = clock.now
                    sampler.load(batch: push * parts + part)
                    let computeStart = clock.now
                    lossSum += Double(model.lossAndGradients(features: sampler.features.pointer, labels: sampler.labels,
                                                             batch: job.batchSize, part: part, of: parts))
                    record.dataMs += (computeStart - loadStart).fractionalMilliseconds
                    record.computeMs += (clock.now - computeStart).fractionalMilliseconds
                }
                let pushStart = clock.now
                record.add(try await exchange.pushPullAll(rank: UInt32(rank), last: step + 1 == steps))
                let end = clock.now
                step += 1
                record.step = step
                record.pushMs = (end - pushStart).fractionalMilliseconds
                record.loss = lossSum / Double(parts)
                record.samplesPerSecond = Double(samplesPerStep) / max(1e-9, (end - stepStart).seconds)
                record.timeS = (end - start).seconds
                report(record, epoch: epoch, &smoothedLoss)
                if step == steps { return record }
                metrics?.step(record)
                if let metrics, options.evalEvery > 0, step % options.evalEvery == 0 {
                    let evalStart = clock.now
                    let (loss, accuracy) = model.evaluate(test)
                    metrics.eval(step: step, accuracy: accuracy, loss: loss,
                                 milliseconds: (clock.now - evalStart).fractionalMilliseconds)
                }
            }
        }
        return nil
    }

    /// Heartbeat progress and, every `progressEvery` steps and at the last, a `progress` line.
    private func report(_ record: StepRecord, epoch: Int, _ smoothedLoss: inout Double?) {
        let loss = smoothedLoss.map { 0.95 * $0 + 0.05 * record.loss } ?? record.loss
        smoothedLoss = loss
        let rate = Double(step * samplesPerStep) / max(1e-9, (ContinuousClock.now - start).seconds)
        heartbeat.update(clock: UInt64(step), samplesPerSecond: rate)
        if step % options.progressEvery == 0 || step == steps {
            emit(#"progress {"rank":\#(rank),"step":\#(step),"steps":\#(steps),"epoch":\#(epoch),"loss":\#(loss),"samples_per_second":\#(rate)}"#)
        }
    }
}
