import Testing
import SwiftPSCore
import SwiftPSModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct MLPTests {
    @Test func layoutFollowsItsTensors() {
        let mlp = MLP(layerSizes: [5, 7, 4], maxBatch: 2)
        #expect(mlp.tensors == MLP.tensors(layerSizes: [5, 7, 4]))
        #expect(mlp.parameters.map(\.count) == mlp.tensors.map(\.count))
        #expect(mlp.gradients.map(\.count) == mlp.tensors.map(\.count))
    }

    @Test func initializeMatchesDeterministicInit() {
        let mlp = MLP(layerSizes: [5, 7, 4], maxBatch: 2)
        mlp.initialize(seed: 99)
        for (i, spec) in mlp.tensors.enumerated() {
            let expected = FloatBuffer(count: spec.count)
            DeterministicInit.fill(expected.buffer, seed: 99, param: i, spec: spec, offset: 0)
            #expect(mlp.parameters[i].array == expected.array, "\(spec.name)")
        }
    }

    /// Every element of every gradient against a central difference of the loss.
    ///
    /// With eps = 1e-2, Float rounding of the loss (~1e-7) costs ~1e-5 in the difference quotient, and the worst
    /// element sits below 1% of the tolerance (1e-3 + 1%). Gradients reach 0.75, so dropping the bias gradient, the
    /// 1/batch or the ReLU mask, or transposing dW or dA, each fails here (checked by breaking the code once).
    @Test func gradientsMatchFiniteDifferences() throws {
        let mlp = MLP(layerSizes: [5, 7, 6, 4], maxBatch: 3)
        mlp.initialize(seed: 11)
        var rng = SplitMix64(seed: 3)
        for layer in 0..<3 {  // non-zero biases, so that they matter in the forward pass too
            for i in 0..<mlp.parameters[2 * layer + 1].count {
                mlp.parameters[2 * layer + 1].pointer[i] = Float(0.3 * rng.nextNormal())
            }
        }
        let features = (0..<15).map { _ in Float(rng.nextNormal()) }
        let labels: [Int32] = [0, 3, 1]
        let loss = { mlp.lossAndGradients(features: features, labels: labels, batch: 3) }

        let initialLoss = loss()
        try #require(initialLoss.isFinite && initialLoss > 0)
        let analytic = mlp.gradients.map(\.array)

        let eps: Float = 1e-2
        var mismatches: [String] = [], checked = 0, largest: Float = 0
        for (p, spec) in mlp.tensors.enumerated() {
            let w = mlp.parameters[p].pointer
            for i in 0..<spec.count {
                let saved = w[i]
                w[i] = saved + eps
                let plus = loss()
                w[i] = saved - eps
                let minus = loss()
                w[i] = saved
                let numeric = (plus - minus) / (2 * eps), exact = analytic[p][i]
                if abs(numeric - exact) > 1e-3 + 1e-2 * max(abs(numeric), abs(exact)) {
                    mismatches.append("\(spec.name)[\(i)]: backprop \(exact), numeric \(numeric)")
                }
                largest = max(largest, abs(exact))
                checked += 1
            }
        }
        #expect(checked == mlp.tensors.map(\.count).reduce(0, +))
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(checked) differ: \(mismatches.prefix(5))")
        // The gradients are far larger than the tolerance, so agreeing means something.
        #expect(largest > 0.1)
        // The pass must not have disturbed the parameters.
        #expect(loss() == initialLoss)
    }

    /// A one-layer softmax classifier whose predictions and loss are worked out by hand.
    @Test func evaluateMatchesAHandCount() {
        let mlp = MLP(layerSizes: [2, 3], maxBatch: 2)  // 5 samples: batches of 2, 2 and 1
        // logits = (x0, x1, 0.5)
        let weights: [Float] = [1, 0, 0,
                                0, 1, 0]
        _ = mlp.parameters[0].buffer.update(fromContentsOf: weights)
        _ = mlp.parameters[1].buffer.update(fromContentsOf: [0, 0, 0.5])
        let points: [[Float]] = [[2, 0], [0, 2], [0, 0], [1, 0], [0.2, 0.1]]
        let labels: [Int32] = [0, 1, 1, 2, 2]
        // predictions: 0 (right), 1 (right), 2 (wrong), 0 (wrong), 2 (right)
        let data = Dataset(inputs: 2, classes: 3, features: points.flatMap { $0 }, labels: labels)

        let result = mlp.evaluate(data)
        #expect(result.accuracy == 0.6)

        var expectedLoss = 0.0
        for (point, label) in zip(points, labels) {
            let logits = [Double(point[0]), Double(point[1]), 0.5]
            expectedLoss += log(logits.map { exp($0) }.reduce(0, +)) - logits[Int(label)]
        }
        expectedLoss /= 5
        #expect(abs(result.loss - expectedLoss) < 1e-5, "loss \(result.loss), expected \(expectedLoss)")
    }

    /// Batched evaluation agrees with one big forward pass, and needs no particular batch alignment.
    @Test func evaluateAgreesWithTheTrainingLoss() {
        let (data, _) = TeacherTask.make(seed: 4, inputs: 6, classes: 3, train: 37, test: 0)
        let whole = MLP(layerSizes: [6, 9, 3], maxBatch: 37)
        let chunked = MLP(layerSizes: [6, 9, 3], maxBatch: 8)
        whole.initialize(seed: 2)
        chunked.initialize(seed: 2)
        let loss = whole.lossAndGradients(features: data.features, labels: data.labels, batch: 37)
        #expect(abs(chunked.evaluate(data).loss - Double(loss)) < 1e-5)
        #expect(abs(whole.evaluate(data).loss - Double(loss)) < 1e-5)
        #expect(chunked.evaluate(data).accuracy == whole.evaluate(data).accuracy)
    }
}
