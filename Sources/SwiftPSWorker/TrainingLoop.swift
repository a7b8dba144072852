import SwiftPSCore
import SwiftPSModel

/// A distributed worker's steps, in the order `PipelineSchedule` gives: per step, `accumulate` mini-batches of
/// `microBatches` micro-batches each, forward and backward a layer at a time, each layer's mean gradient pushed as
/// soon as it is final; then progress, heartbeat and metrics. A step is a push: `steps` and `step` count pushes,
/// not mini-batches.
final class TrainingLoop {
    let job: JobConfig
    let rank: Int
    let model: any TrainableModel
    let exchange: ParameterExchange
    let compute: StepCompute
    let sampler: BatchSampler
    let test: Dataset
    let heartbeat: Heartbeat
    let metrics: MetricsLog?
    let options: WorkerOptions
    let schedule: PipelineSchedule

    /// Pushes so far.
    private(set) var step = 0
    /// When the first step began (after the initial pull).
    private(set) var start = ContinuousClock.now
    /// Over the whole run, for the summary: compute, data, push (sending), pull (waiting for values), wait.
    private(set) var totals = StepRecord()

    init(job: JobConfig, rank: Int, model: any TrainableModel, exchange: ParameterExchange, sampler: BatchSampler, test: Dataset,
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
        compute = StepCompute(model: model, sampler: sampler, accumulate: job.plan.accumulate,
                              microBatches: job.plan.microBatches)
        schedule = PipelineSchedule(microBatches: job.plan.accumulate * job.plan.microBatches,
                                    maxInflight: job.plan.maxInflight)
    }

    /// Pushes per epoch: whole groups of `accumulate` mini-batches (mini-batches left over are skipped).
    var pushesPerEpoch: Int { sampler.batchesPerEpoch / job.plan.accumulate }
    var steps: Int { pushesPerEpoch * job.plan.epochs }
    var samplesPerStep: Int { job.plan.batchSize * job.plan.accumulate }

    /// Pulls the initial model, then runs every step (or until shutdown is requested), then takes the replies still
    /// in flight.
    /// - Returns: the last step's record, not yet written: the end of training (barrier, final pull) belongs to it.
    ///   Nil when no step ran to the end.
    func run(shutdown: Shutdown) async throws -> StepRecord? {
        // A signal while the data was being made: the servers may be gone already, so do not wait on them.
        if shutdown.isRequested { return nil }
        let clock = ContinuousClock()
        let timed = TimedTransport(exchange)
        exchange.finalStep = steps - 1
        var carried = StepRecord()  // what happens before a step and belongs to it: the initial pull, for step 1
        let pullStart = clock.now
        try await exchange.initialPull()
        carried.pullMs = (clock.now - pullStart).fractionalMilliseconds
        start = clock.now
        var smoothedLoss: Double?
        for epoch in 0..<job.plan.epochs {
            sampler.startEpoch(epoch)
            for push in 0..<pushesPerEpoch {
                if shutdown.isRequested { return nil }
                var record = carried
                carried = StepRecord()
                record.epoch = epoch
                let stepStart = clock.now
                compute.push = push
                try await schedule.run(step: step, compute: compute, transport: timed)
                if step + 1 == steps {
                    try await schedule.drain(steps: steps, layers: model.layerCount, transport: timed)
                }
                let end = clock.now
                step += 1
                let (loss, computeMs, dataMs) = compute.takeStep()
                (record.step, record.loss, record.computeMs, record.dataMs) = (step, loss, computeMs, dataMs)
                (record.pushMs, record.pullMs) = timed.take(adding: record.pullMs)
                record.add(exchange.takeStats())
                record.samplesPerSecond = Double(samplesPerStep) / max(1e-9, (end - stepStart).seconds)
                record.timeS = (end - start).seconds
                totals.accumulateTimes(record)
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

/// The exchange as the schedule drives it, timed: milliseconds spent sending (staging, encoding, handing to the
/// sockets) and blocked receiving (waiting for replies, decoding values) — the communication the pipeline did not
/// hide.
final class TimedTransport: LayerTransport {
    let exchange: ParameterExchange
    private var sendMs = 0.0, receiveMs = 0.0
    private let clock = ContinuousClock()

    init(_ exchange: ParameterExchange) { self.exchange = exchange }

    func send(layer: Int, step: Int) throws {
        let start = clock.now
        defer { sendMs += (clock.now - start).fractionalMilliseconds }
        try exchange.send(layer: layer, step: step)
    }

    func receive(layer: Int, step: Int) async throws {
        let start = clock.now
        defer { receiveMs += (clock.now - start).fractionalMilliseconds }
        try await exchange.receive(layer: layer, step: step)
    }

    /// (send, receive + `pulled`) milliseconds since the last call; resets them.
    func take(adding pulled: Double) -> (push: Double, pull: Double) {
        defer { (sendMs, receiveMs) = (0, 0) }
        return (sendMs, receiveMs + pulled)
    }
}
