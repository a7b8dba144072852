import SwiftPSCore
import SwiftPSModel

/// A worker's step as the pipeline schedule sees it: `accumulate` mini-batches, each computed in `microBatches`
/// micro-batches, whose gradients accumulate as one mean (see `TrainableModel.lossAndGradients`),
/// a layer at a time. Times its own compute and data copying for the metrics file.
final class StepCompute: LayerCompute {
    let model: any TrainableModel
    let sampler: BatchSampler
    let microBatches: Int
    /// Micro-batches per step: accumulated mini-batches × micro-batches each.
    let parts: Int
    /// Samples per micro-batch.
    let microSize: Int
    /// Which push of the epoch the step is: selects its mini-batches.
    var push = 0
    /// Since the last `takeTimes()`.
    private(set) var computeMs = 0.0, dataMs = 0.0, lossSum = 0.0
    private let clock = ContinuousClock()

    init(model: any TrainableModel, sampler: BatchSampler, accumulate: Int, microBatches: Int) {
        precondition(sampler.batchSize % microBatches == 0, "batch \(sampler.batchSize) in \(microBatches) micro-batches")
        self.model = model
        self.sampler = sampler
        self.microBatches = microBatches
        parts = accumulate * microBatches
        microSize = sampler.batchSize / microBatches
    }

    var layerCount: Int { model.layerCount }

    /// The mean loss of the step's samples and the milliseconds spent; resets them.
    func takeStep() -> (loss: Double, computeMs: Double, dataMs: Double) {
        defer { (computeMs, dataMs, lossSum) = (0, 0, 0) }
        return (lossSum / Double(parts), computeMs, dataMs)
    }

    func forward(layer: Int, micro: Int) {
        let piece = micro % microBatches
        if layer == 0 && piece == 0 {
            let start = clock.now
            sampler.load(batch: push * (parts / microBatches) + micro / microBatches)
            dataMs += (clock.now - start).fractionalMilliseconds
        }
        let start = clock.now
        model.forward(layer: layer, features: features(piece), batch: microSize)
        if layer == model.layerCount - 1 {
            lossSum += Double(model.lossAndDeltas(labels: sampler.labels + piece * microSize, batch: microSize,
                                                  part: micro, of: parts))
        }
        computeMs += (clock.now - start).fractionalMilliseconds
    }

    func backward(layer: Int, micro: Int) {
        let start = clock.now
        model.backward(layer: layer, features: features(micro % microBatches), batch: microSize, accumulate: micro > 0)
        computeMs += (clock.now - start).fractionalMilliseconds
    }

    private func features(_ piece: Int) -> UnsafePointer<Float> {
        UnsafePointer(sampler.features.pointer + piece * microSize * model.inputs)
    }
}
