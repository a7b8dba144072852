import Foundation
import SwiftPSCore
import SwiftPSModel

/// `swiftps bench step`: one worker's compute step (`MLP.lossAndGradients`: forward, softmax cross-entropy,
/// backward), in milliseconds, next to the time single-threaded sgemm alone takes for the same products, measured
/// in the same run.
///
/// The products are the step's FLOPs; everything else (bias copies, ReLU, softmax, bias gradients) is overhead
/// that the ratio `sgemm time / step time` shows: 1 would be a step that costs only its products.
public enum StepBenchmark {
    struct Model {
        var layerSizes: [Int]
        var batch: Int
        var label: String { layerSizes.map(String.init).joined(separator: "-") + "_b\(batch)" }
    }

    /// The default job's model and batch, and one whose products are large enough to run sgemm near its peak.
    static let models = [Model(layerSizes: [64, 512, 512, 10], batch: 64),
                         Model(layerSizes: [256, 2048, 2048, 10], batch: 256)]

    public static func run(secondsPerRound seconds: Double, json: Bool) {
        MLP.setBLASThreads(1)  // as workers run it
        let report = Report(json: json)
        report.note("step benchmark: MLP.lossAndGradients, ms per step, median of \(Measure.rounds) rounds of \(seconds) s; "
                    + "baseline: the step's sgemm calls alone (single-threaded OpenBLAS), same shapes; "
                    + "ratio: baseline / step")
        for model in models {
            let mlp = MLP(layerSizes: model.layerSizes, maxBatch: model.batch)
            mlp.initialize(seed: 1)
            var random = SplitMix64(seed: 2)
            let inputs = model.layerSizes[0], classes = model.layerSizes.last!
            let features = (0..<(model.batch * inputs)).map { _ in Float(random.next() >> 40) * 0x1p-24 - 0.5 }
            let labels = (0..<model.batch).map { _ in Int32(random.next() % UInt64(classes)) }
            let products = SgemmWorkload(mlp.sgemmShapes(batch: model.batch))

            let (steps, sgemms) = features.withUnsafeBufferPointer { features in
                labels.withUnsafeBufferPointer { labels in
                    Measure.medians({
                        Measure.rate(seconds: seconds) {
                            _ = mlp.lossAndGradients(features: features.baseAddress!, labels: labels.baseAddress!,
                                                     batch: model.batch)
                        }
                    }, {
                        Measure.rate(seconds: seconds) { products.run() }
                    })
                }
            }
            let flops = String(format: "%.1f MFLOP in %d sgemm calls per step; sgemm alone %.1f GFLOP/s",
                               products.flops / 1e6, products.shapes.count, products.flops * sgemms / 1e9)
            report.note("  \(model.label): \(flops)")
            report.figure("step_\(model.label)", 1e3 / steps, "ms", 1e3 / sgemms, higherIsBetter: false)
        }
    }
}
