import Testing
import SwiftPSCore
import SwiftPSModel

@Suite struct TrainingTests {
    /// Plain SGD applied locally: the loop a worker runs, without the servers.
    @Test func sgdLearnsTheTeacherTask() {
        let (train, test) = TeacherTask.make(seed: 3, inputs: 16, classes: 4, train: 4096, test: 1024)
        let batch = 32
        let mlp = MLP(layerSizes: [16, 64, 4], maxBatch: batch)
        mlp.initialize(seed: 3)
        let sgd = OptimizerConfig(kind: .sgd, learningRate: 0.1)
        let noState = FloatBuffer(count: 0)

        let before = mlp.evaluate(test)
        train.features.withUnsafeBufferPointer { features in
            train.labels.withUnsafeBufferPointer { labels in
                for epoch in 0..<5 {
                    for start in stride(from: 0, to: train.count, by: batch) {
                        let size = min(batch, train.count - start)
                        _ = mlp.lossAndGradients(features: features.baseAddress! + start * train.inputs,
                                                 labels: labels.baseAddress! + start, batch: size)
                        for (i, spec) in mlp.tensors.enumerated() {
                            Optimizer.apply(sgd, weights: mlp.parameters[i].pointer, state: noState.pointer,
                                            gradient: mlp.gradients[i].pointer, count: spec.count,
                                            step: UInt64(epoch + 1))
                        }
                    }
                }
            }
        }
        let after = mlp.evaluate(test)
        // Measured: loss 2.15 → 0.075, accuracy 0.21 → 0.98 (majority 0.26).
        #expect(after.loss < 0.6 * before.loss, "loss \(before.loss) → \(after.loss)")
        #expect(after.accuracy > test.majorityRate + 0.3, "accuracy \(after.accuracy), majority \(test.majorityRate)")
        #expect(after.accuracy > 0.85)
    }
}
