import SwiftPSCore
import SwiftPSServer
import SwiftPSModel

/// One worker's steps without the cluster around it (no coordinator, heartbeat, progress or metrics), on the same
/// schedule, model and exchange as `TrainingLoop`: what `swiftps bench overlap` times.
public final class StepEngine {
    let job: JobConfig
    let model: any TrainableModel
    let compute: StepCompute
    let exchange: ParameterExchange
    private let sampler: BatchSampler
    /// Mini-batch groups used so far (the data cycles).
    private var used = 0

    /// A worker of `job` training `model` on `data` against `clients` (by server id) holding `chunks`.
    public init(job: JobConfig, model: any TrainableModel, data: Dataset, chunks: [Chunk],
                clients: [UInt32: ParameterServerClient]) {
        self.job = job
        self.model = model
        let plan = job.plan
        sampler = BatchSampler(data: data, batchSize: plan.batchSize, seed: job.seed)
        sampler.startEpoch(0)
        compute = StepCompute(model: model, sampler: sampler, accumulate: plan.accumulate, microBatches: plan.microBatches)
        exchange = ParameterExchange(model: model, chunks: chunks, clients: clients, dtype: job.wireDType,
                                     compression: plan.compression, maxInflight: plan.maxInflight)
    }

    public func initialPull() async throws { try await exchange.initialPull() }

    /// Runs `steps` more steps (cycling over the data) on the job's schedule and takes every reply still in flight;
    /// with `communicate` false, the same computation with no transport at all. Returns the seconds taken.
    public func run(steps: Int, communicate: Bool) async throws -> Double {
        let schedule = PipelineSchedule(microBatches: job.plan.accumulate * job.plan.microBatches, maxInflight: job.plan.maxInflight)
        let transport: any LayerTransport = communicate ? exchange : NoTransport()
        let clock = ContinuousClock(), start = clock.now
        let pushes = sampler.batchesPerEpoch / job.plan.accumulate
        // Each run is a pipeline of its own, from step 0 to its drain.
        for step in 0..<steps {
            compute.push = used % pushes
            used += 1
            try await schedule.run(step: step, compute: compute, transport: transport)
        }
        try await schedule.drain(steps: steps, layers: model.layerCount, transport: transport)
        _ = compute.takeStep()
        return (clock.now - start).seconds
    }
}

/// Computation alone: a transport that moves nothing.
final class NoTransport: LayerTransport {
    func send(layer: Int, step: Int) throws {}
    func receive(layer: Int, step: Int) async throws {}
}
