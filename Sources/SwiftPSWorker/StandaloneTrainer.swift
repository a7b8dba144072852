import SwiftPSCore
import SwiftPSModel

/// Trains the same model on the same samples in one process, with the servers' own update code (`ParameterStore`):
/// the baseline that shows what distribution costs in accuracy.
public enum StandaloneTrainer {
    public static func run(job: JobConfig, log: Log) throws(SwiftPSError) -> TrainingResult {
        let plan = job.plan
        let model = try Models.make(plan.model, maxBatch: plan.batchSize)
        try model.requireSpace(job.tensors)
        let (train, test) = try JobData.load(job, inputs: model.inputs, classes: model.classes)
        model.initialize(seed: job.seed)
        let chunks = Placement.chunks(tensors: job.tensors, chunkElements: job.chunkElements, servers: [0])
        let store = ParameterStore(chunks: chunks, tensors: job.tensors, seed: job.seed, optimizer: job.optimizer,
                                   allowNonFinite: true)
        let sampler = BatchSampler(data: train, batchSize: plan.batchSize, seed: job.seed)
        // The distributed run drops a partial batch (and a partial group of `accumulate` batches) per worker; match
        // its push count. A step is one push of the mean gradient of `accumulate` mini-batches, as on a worker.
        let parts = plan.accumulate
        let stepsPerEpoch = (0..<job.workers).reduce(0) {
            $0 + train.shard(rank: $1, of: job.workers).count / plan.batchSize / parts
        }
        let start = ContinuousClock.now
        var step = 0
        for epoch in 0..<plan.epochs {
            sampler.startEpoch(epoch)
            for push in 0..<min(stepsPerEpoch, sampler.batchesPerEpoch / parts) {
                for part in 0..<parts {
                    sampler.load(batch: push * parts + part)
                    _ = model.lossAndGradients(features: sampler.features.pointer, labels: sampler.labels,
                                               batch: plan.batchSize, part: part, of: parts)
                }
                let views = chunks.map { chunk in
                    TensorView(key: chunk.key, dtype: .f32, count: chunk.count,
                               bytes: UnsafeRawBufferPointer(start: model.gradients[chunk.param].pointer + chunk.offset,
                                                             count: chunk.count * 4))
                }
                _ = store.apply(views)
                for chunk in chunks {
                    _ = store.withWeights(of: chunk.key) { weights, _ in
                        (model.parameters[chunk.param].pointer + chunk.offset).update(from: weights.baseAddress!,
                                                                                      count: chunk.count)
                    }
                }
                step += 1
            }
        }
        let seconds = (ContinuousClock.now - start).seconds
        let (loss, accuracy) = model.evaluate(test)
        log.info("standalone: accuracy \(accuracy) after \(step) steps in \(seconds) s")
        return TrainingResult(accuracy: accuracy, loss: loss, samples: step * parts * plan.batchSize, seconds: seconds)
    }
}
