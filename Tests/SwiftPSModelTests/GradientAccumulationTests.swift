import Testing
import SwiftPSCore
import SwiftPSModel

/// Gradient accumulation means the *mean*: N mini-batches accumulated give the gradient of one batch of N × B.
@Suite struct GradientAccumulationTests {
    static let sizes = [6, 9, 7, 3]

    /// A model with non-zero biases (so they matter in the forward pass), the same for every call.
    static func model(maxBatch: Int) -> MLP {
        let mlp = MLP(layerSizes: sizes, maxBatch: maxBatch)
        mlp.initialize(seed: 5)
        var rng = SplitMix64(seed: 8)
        for layer in 0..<(sizes.count - 1) {
            for i in 0..<mlp.parameters[2 * layer + 1].count {
                mlp.parameters[2 * layer + 1].pointer[i] = Float(0.3 * rng.nextNormal())
            }
        }
        return mlp
    }

    /// Accumulating `parts` mini-batches of `batch` equals one gradient on the concatenated `parts × batch` samples,
    /// with the same weights; the returned losses average to the big batch's loss.
    @Test(arguments: [(3, 5), (4, 1), (2, 16), (7, 3)])
    func accumulatedPartsEqualOneConcatenatedBatch(parts: Int, batch: Int) throws {
        let total = parts * batch
        let (data, _) = TeacherTask.make(seed: 6, inputs: Self.sizes[0], classes: Self.sizes.last!, train: total + 4, test: 0)
        let whole = Self.model(maxBatch: total)
        let wholeLoss = whole.lossAndGradients(features: data.features, labels: data.labels, batch: total)

        let accumulated = Self.model(maxBatch: batch)
        // Stale gradients from another batch first: part 0 must overwrite them.
        _ = accumulated.lossAndGradients(features: Array(data.features.suffix(4 * Self.sizes[0])),
                                         labels: Array(data.labels.suffix(4)), batch: min(4, batch))
        var lossSum = 0.0
        for part in 0..<parts {
            let rows = part * batch..<(part + 1) * batch
            let features = Array(data.features[rows.lowerBound * Self.sizes[0]..<rows.upperBound * Self.sizes[0]])
            lossSum += Double(accumulated.lossAndGradients(features: features, labels: Array(data.labels[rows]),
                                                           batch: batch, part: part, of: parts))
        }
        #expect(abs(lossSum / Double(parts) - Double(wholeLoss)) < 1e-5)

        var mismatches: [String] = [], largest: Float = 0
        for (p, spec) in whole.tensors.enumerated() {
            for i in 0..<spec.count {
                let expected = whole.gradients[p].pointer[i], got = accumulated.gradients[p].pointer[i]
                if abs(expected - got) > 1e-6 + 1e-4 * abs(expected) {
                    mismatches.append("\(spec.name)[\(i)]: accumulated \(got), concatenated \(expected)")
                }
                largest = max(largest, abs(expected))
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differ: \(mismatches.prefix(5))")
        // Far above the tolerance, so that a sum (N times the mean) or a dropped part would show.
        #expect(largest > 0.05)
        // Accumulation reads the weights, never writes them.
        for (p, parameter) in Self.model(maxBatch: 1).parameters.enumerated() {
            #expect(accumulated.parameters[p].array == parameter.array)
        }
    }

    /// One part of one is the plain call, bit for bit: N = 1 changes nothing.
    @Test func onePartIsThePlainGradient() {
        let (data, _) = TeacherTask.make(seed: 9, inputs: Self.sizes[0], classes: Self.sizes.last!, train: 8, test: 0)
        let plain = Self.model(maxBatch: 8), single = Self.model(maxBatch: 8)
        let plainLoss = plain.lossAndGradients(features: data.features, labels: data.labels, batch: 8)
        let singleLoss = single.lossAndGradients(features: data.features, labels: data.labels, batch: 8, part: 0, of: 1)
        #expect(plainLoss == singleLoss)
        #expect(plain.gradients.map(\.array) == single.gradients.map(\.array))
    }

    /// Micro-batches as a pipelined worker runs them, a layer at a time (forward first layer first, the loss, then
    /// backward last layer first): 4 micro-batches of 4 give one batch of 16's mean gradient.
    @Test func microBatchesLayerByLayerEqualOneBatch() {
        let micro = 4, parts = 4, total = micro * parts, inputs = Self.sizes[0]
        let (data, _) = TeacherTask.make(seed: 10, inputs: inputs, classes: Self.sizes.last!, train: total, test: 0)
        let whole = Self.model(maxBatch: total)
        let wholeLoss = whole.lossAndGradients(features: data.features, labels: data.labels, batch: total)
        let layered = Self.model(maxBatch: micro)
        var lossSum = 0.0
        data.features.withUnsafeBufferPointer { features in
            data.labels.withUnsafeBufferPointer { labels in
                for part in 0..<parts {
                    let x = features.baseAddress! + part * micro * inputs
                    for layer in 0..<layered.layerCount { layered.forward(layer: layer, features: x, batch: micro) }
                    lossSum += Double(layered.lossAndDeltas(labels: labels.baseAddress! + part * micro, batch: micro,
                                                            part: part, of: parts))
                    for layer in (0..<layered.layerCount).reversed() {
                        layered.backward(layer: layer, features: x, batch: micro, accumulate: part > 0)
                    }
                }
            }
        }
        #expect(abs(lossSum / Double(parts) - Double(wholeLoss)) < 1e-5)
        for (p, spec) in whole.tensors.enumerated() {
            for i in 0..<spec.count {
                let expected = whole.gradients[p].pointer[i], got = layered.gradients[p].pointer[i]
                #expect(abs(expected - got) <= 1e-6 + 1e-4 * abs(expected), "\(spec.name)[\(i)]")
            }
        }
    }
}
