import SwiftPSCore

/// `swiftps bench apply`: how fast a server applies a pushed fp32 gradient (`ParameterStore.validate`, then
/// `apply`) with each optimizer, in bytes the rule must touch per second, next to `memcpy` moving the same number of
/// bytes through buffers of the same total size, measured in the same run.
///
/// The rules are streaming loops with a handful of flops per element, so memory bandwidth is their ceiling; the
/// ratio says how close to it they get.
public enum ApplyBenchmark {
    /// One tensor in cache (1 MiB of fp32, a few MiB with its state) and one far bigger than the L3 cache.
    static let sizes = [(label: "1MiB", bytes: 1 << 20), (label: "64MiB", bytes: 64 << 20)]

    /// Bytes one element costs in memory traffic: the finite check reads g (4), then the rule reads g (4), reads
    /// and writes w (8), and reads and writes each state buffer (8 each: momentum's velocity; Adam's m and v).
    /// SGD 16, momentum 24, Adam 32. Weight decay reads w, which the rule reads anyway.
    static func bytesTouched(perElement kind: OptimizerConfig.Kind) -> Int {
        4 + 4 + 8 + 8 * OptimizerConfig(kind: kind, learningRate: 0).stateBuffers
    }

    public static func run(secondsPerRound seconds: Double, json: Bool) throws {
        let report = Report(json: json)
        report.note("apply benchmark: ParameterStore.validate + apply of one fp32 gradient, bytes touched per second, "
                    + "median of \(Measure.rounds) rounds of \(seconds) s; "
                    + "baseline: memcpy, bytes touched (read + write) in buffers of the rule's total size")
        for size in sizes {
            let count = size.bytes / 4
            // Values do not change the speed (the loops do not branch on data); these stay far from subnormals.
            let gradient = FloatBuffer(count: count, repeating: 1e-3)
            let views = [TensorView(key: 0, dtype: .f32, count: count, bytes: UnsafeRawBufferPointer(gradient.buffer))]
            for kind in OptimizerConfig.Kind.allCases {
                let config = OptimizerConfig(kind: kind, learningRate: 1e-6)
                let store = ParameterStore(chunks: [Chunk(key: 0, param: 0, offset: 0, count: count, server: 0)],
                                           tensors: [TensorSpec(name: "w", shape: [count])], seed: 1,
                                           optimizer: config)
                // The rule's working set: gradient, weights and state buffers.
                let copy = ByteBuffer(count: size.bytes * (2 + config.stateBuffers))
                let (applies, copies) = try Measure.medians({
                    try Measure.rate(seconds: seconds) {
                        try store.validate(views)
                        _ = store.apply(views)
                    }
                }, {
                    Measure.memcpyRate(copy.bytes, seconds: seconds)
                })
                let touched = Double(count * bytesTouched(perElement: kind))
                report.figure("apply_\(kind)_\(size.label)", applies * touched / 1e9, "GB/s",
                              copies * Double(copy.bytes.count) / 1e9)
            }
        }
    }
}
