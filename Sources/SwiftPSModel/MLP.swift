import SwiftPSCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A multilayer perceptron (ReLU hidden layers, softmax cross-entropy) whose forward and backward passes run on
/// cblas_sgemm over buffers allocated once and reused every step.
///
/// Parameters and gradients are laid out exactly as `MLP.tensors(layerSizes:)` declares them (per layer a
/// row-major `in × out` weight, then a bias), so a worker can copy pulled chunks straight into `parameters` and push
/// straight out of `gradients`. Not thread-safe: one thread at a time uses an instance.
public final class MLP: TrainableModel {
    public let layerSizes: [Int]
    /// `MLP.tensors(layerSizes:)`.
    public let tensors: [TensorSpec]
    /// One buffer per spec, same order.
    public let parameters: [FloatBuffer]
    /// One buffer per spec, same order; overwritten by every `lossAndGradients` (but for accumulated parts).
    public let gradients: [FloatBuffer]
    /// The largest batch one call may pass.
    public let maxBatch: Int

    /// Per layer, `maxBatch × out`: its outputs (after ReLU for hidden layers; logits, then probabilities, last).
    private let outputs: [FloatBuffer]
    /// Per layer, `maxBatch × out`: d(mean loss)/d(pre-activation).
    private let deltas: [FloatBuffer]

    /// Dense layers; layer `l` owns parameters `2l` (weight) and `2l + 1` (bias).
    public var layerCount: Int { layerSizes.count - 1 }
    public var inputs: Int { layerSizes[0] }
    public var classes: Int { layerSizes[layerCount] }

    public func tensorIndices(ofLayer layer: Int) -> [Int] { [2 * layer, 2 * layer + 1] }

    /// The MLP's parameter space (the `--layers` preset): per layer `layers.L.weight`, shape `[in, out]` row-major,
    /// He-normal; and `layers.L.bias`, shape `[out]`, zeros, exempt from weight decay.
    public static func tensors(layerSizes: [Int]) -> [TensorSpec] {
        (0..<(layerSizes.count - 1)).flatMap { layer in
            let fanIn = layerSizes[layer], fanOut = layerSizes[layer + 1]
            return [TensorSpec(name: "layers.\(layer).weight", shape: [fanIn, fanOut], initializer: .heNormal),
                    TensorSpec(name: "layers.\(layer).bias", shape: [fanOut], weightDecay: false)]
        }
    }

    /// Allocates every buffer a step needs; parameters start at zero until `initialize(seed:)`.
    public init(layerSizes: [Int], maxBatch: Int) {
        precondition(layerSizes.count >= 2 && layerSizes.allSatisfy { $0 > 0 }, "invalid layer sizes \(layerSizes)")
        precondition(maxBatch > 0, "maxBatch must be positive")
        self.layerSizes = layerSizes
        self.maxBatch = maxBatch
        tensors = MLP.tensors(layerSizes: layerSizes)
        parameters = tensors.map { FloatBuffer(count: $0.count) }
        gradients = tensors.map { FloatBuffer(count: $0.count) }
        outputs = layerSizes.dropFirst().map { FloatBuffer(count: maxBatch * $0) }
        deltas = layerSizes.dropFirst().map { FloatBuffer(count: maxBatch * $0) }
    }

    // MARK: - One layer at a time (for pipelining: a layer's gradient can leave while the layers below compute)

    /// The forward pass through `layer` alone; layers run in order, 0 first, on the same `features` and `batch`.
    public func forward(layer: Int, features: UnsafePointer<Float>, batch: Int) {
        precondition(batch > 0 && batch <= maxBatch, "batch \(batch) is not in 1...\(maxBatch)")
        forwardLayer(layer, features: features, batch: batch)
    }

    /// After the last layer's forward: the mean loss of the batch, and the last layer's deltas scaled for part
    /// `part` of `parts` (see `lossAndGradients(features:labels:batch:part:of:)`).
    public func lossAndDeltas(labels: UnsafePointer<Int32>, batch: Int, part: Int, of parts: Int) -> Float {
        precondition(parts > 0 && (0..<parts).contains(part), "part \(part) is not in 0..<\(parts)")
        let (lossSum, _) = softmaxCrossEntropy(labels: labels, batch: batch, deltas: deltas[layerCount - 1].pointer,
                                               scale: 1 / Float(batch * parts))
        return Float(lossSum / Double(batch))
    }

    /// The backward pass through `layer` alone, last layer first: writes (or with `accumulate`, adds) its weight
    /// and bias gradients, and the deltas of the layer below.
    public func backward(layer: Int, features: UnsafePointer<Float>, batch: Int, accumulate: Bool) {
        backwardLayer(layer, features: features, batch: batch, accumulate: accumulate)
    }

    /// Forward only: mean loss and fraction of correct argmax predictions, in batches of at most maxBatch.
    /// An empty data set gives `(0, 0)`.
    public func evaluate(_ data: Dataset) -> (loss: Double, accuracy: Double) {
        precondition(data.inputs == inputs && data.classes == classes,
                     "data set is \(data.inputs) → \(data.classes), model is \(inputs) → \(classes)")
        guard data.count > 0 else { return (0, 0) }
        var lossSum = 0.0, correct = 0
        data.features.withUnsafeBufferPointer { features in
            data.labels.withUnsafeBufferPointer { labels in
                var start = 0
                while start < data.count {
                    let batch = min(maxBatch, data.count - start)
                    forward(features.baseAddress! + start * inputs, batch: batch)
                    let (loss, hits) = softmaxCrossEntropy(labels: labels.baseAddress! + start, batch: batch,
                                                           deltas: nil, scale: 0)
                    lossSum += loss
                    correct += hits
                    start += batch
                }
            }
        }
        return (lossSum / Double(data.count), Double(correct) / Double(data.count))
    }

    /// Sets OpenBLAS's thread count (a worker sharing a small machine wants 1).
    public static func setBLASThreads(_ count: Int) {
        precondition(count > 0, "thread count must be positive")
        setOpenBLASThreads(count)
    }

    // MARK: - Passes

    private func weights(_ layer: Int) -> UnsafeMutablePointer<Float> { parameters[2 * layer].pointer }
    private func bias(_ layer: Int) -> UnsafeMutablePointer<Float> { parameters[2 * layer + 1].pointer }

    /// The input of `layer`: the features for the first, the previous layer's outputs otherwise.
    private func layerInput(_ layer: Int, features: UnsafePointer<Float>) -> UnsafePointer<Float> {
        layer == 0 ? features : UnsafePointer(outputs[layer - 1].pointer)
    }

    private func forward(_ features: UnsafePointer<Float>, batch: Int) {
        for layer in 0..<layerCount { forwardLayer(layer, features: features, batch: batch) }
    }

    /// Fills the layer's `outputs`: `Z = A·W + b` (bias copied into every row, then sgemm with beta 1), ReLU on
    /// hidden layers, raw logits on the last.
    private func forwardLayer(_ layer: Int, features: UnsafePointer<Float>, batch: Int) {
        let fanIn = layerSizes[layer], fanOut = layerSizes[layer + 1]
        let z = outputs[layer].pointer, b = bias(layer)
        for row in 0..<batch { (z + row * fanOut).update(from: b, count: fanOut) }
        gemm(m: batch, n: fanOut, k: fanIn, a: layerInput(layer, features: features), lda: fanIn,
             b: weights(layer), ldb: fanOut, beta: 1, c: z, ldc: fanOut)
        if layer < layerCount - 1 {
            for i in 0..<(batch * fanOut) { z[i] = max(z[i], 0) }
        }
    }

    /// Turns the last layer's logits into probabilities (subtracting each row's max first) and returns the summed
    /// loss `Σ -log p[label]` and the number of rows whose first largest logit is the label. When `deltas` is given,
    /// writes `(p - onehot(label)) × scale` there: with `scale = 1/batch`, the gradient of the mean loss with respect
    /// to the logits.
    private func softmaxCrossEntropy(labels: UnsafePointer<Int32>, batch: Int, deltas: UnsafeMutablePointer<Float>?,
                                     scale: Float) -> (loss: Double, correct: Int) {
        let width = classes, logits = outputs[layerCount - 1].pointer
        var lossSum = 0.0, correct = 0
        for row in 0..<batch {
            let label = Int(labels[row])
            precondition(label >= 0 && label < width, "label \(label) is outside 0..<\(width)")
            let z = logits + row * width
            var best = 0, maxLogit = z[0]
            for j in 1..<width where z[j] > maxLogit {
                best = j
                maxLogit = z[j]
            }
            if best == label { correct += 1 }
            let labelLogit = z[label]
            var sum: Float = 0
            for j in 0..<width {
                let e = expf(z[j] - maxLogit)
                z[j] = e
                sum += e
            }
            // -log p[label] = log Σ exp(z - max) - (z[label] - max): finite even when p[label] underflows.
            lossSum += Double(logf(sum) - (labelLogit - maxLogit))
            let inverseSum = 1 / sum
            for j in 0..<width { z[j] *= inverseSum }
            if let deltas {
                let d = deltas + row * width
                for j in 0..<width { d[j] = z[j] * scale }
                d[label] -= scale
            }
        }
        return (lossSum, correct)
    }

    /// One layer of the backward pass: `dW = Aᵀ·dZ`, `db = Σ_rows dZ`, and `dA = dZ·Wᵀ` masked by ReLU' (outputs > 0)
    /// to give the layer below its deltas. With `accumulate`, dW and db are added to `gradients`.
    private func backwardLayer(_ layer: Int, features: UnsafePointer<Float>, batch: Int, accumulate: Bool) {
        let fanIn = layerSizes[layer], fanOut = layerSizes[layer + 1]
        let dz = deltas[layer].pointer
        gemm(transposeA: true, m: fanIn, n: fanOut, k: batch, a: layerInput(layer, features: features), lda: fanIn,
             b: dz, ldb: fanOut, beta: accumulate ? 1 : 0, c: gradients[2 * layer].pointer, ldc: fanOut)
        let db = gradients[2 * layer + 1].pointer
        if !accumulate { db.update(repeating: 0, count: fanOut) }
        for row in 0..<batch {
            let d = dz + row * fanOut
            for j in 0..<fanOut { db[j] += d[j] }
        }
        guard layer > 0 else { return }
        let below = deltas[layer - 1].pointer, activation = outputs[layer - 1].pointer
        gemm(transposeB: true, m: batch, n: fanIn, k: fanOut, a: dz, lda: fanOut, b: weights(layer), ldb: fanOut,
             beta: 0, c: below, ldc: fanIn)
        for i in 0..<(batch * fanIn) { below[i] = activation[i] > 0 ? below[i] : 0 }
    }
}
