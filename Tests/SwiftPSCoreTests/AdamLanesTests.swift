import Testing
import SwiftPSCore
import CKernels

/// Adam runs eight lanes at a time plus a scalar tail: both must match the textbook update element by element.
@Suite struct AdamLanesTests {
    @Test(arguments: [8, 37, 1000]) func simdAndTailMatchTheScalarRule(count: Int) {
        let config = OptimizerConfig(kind: .adam, learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
                                     weightDecay: 0.01)
        var rng = SplitMix64(seed: UInt64(count))
        var weights = (0..<count).map { _ in Float(rng.nextNormal()) }
        let gradients = (0..<3).map { _ in (0..<count).map { _ in Float(rng.nextNormal()) * 0.1 } }
        var state = [Float](repeating: 0, count: 2 * count)
        var expectedW = weights, m = [Float](repeating: 0, count: count), v = m
        for (index, g) in gradients.enumerated() {
            let step = UInt64(index + 1)
            weights.withUnsafeMutableBufferPointer { w in
                state.withUnsafeMutableBufferPointer { s in
                    g.withUnsafeBufferPointer { g in
                        Optimizer.apply(config, weights: w.baseAddress!, state: s.baseAddress!, gradient: g.baseAddress!,
                                        count: count, step: step)
                    }
                }
            }
            let c1 = 1 - pow(config.beta1, Float(step)), c2 = 1 - pow(config.beta2, Float(step))
            for i in 0..<count {
                let gi = g[i] + config.weightDecay * expectedW[i]
                m[i] = config.beta1 * m[i] + (1 - config.beta1) * gi
                v[i] = config.beta2 * v[i] + (1 - config.beta2) * gi * gi
                expectedW[i] -= config.learningRate / c1 * m[i] / (v[i].squareRoot() / c2.squareRoot() + config.epsilon)
            }
        }
        for i in 0..<count {
            #expect(abs(weights[i] - expectedW[i]) <= 1e-6 * max(1, abs(expectedW[i])), "element \(i)")
            #expect(abs(state[i] - m[i]) <= 1e-6 * max(1e-3, abs(m[i])), "m \(i): \(state[i]) vs \(m[i])")
            #expect(abs(state[count + i] - v[i]) <= 1e-6 * max(1e-6, v[i]), "v \(i)")
        }
    }

    /// The AVX path (chosen at run time) and the baseline one give the same bits, tail included: BSP's
    /// reproducibility does not depend on which CPU a server runs on.
    @Test(arguments: [8, 37, 4099]) func everyInstructionSetGivesTheSameBits(count: Int) {
        var rng = SplitMix64(seed: UInt64(count) &* 3)
        let start = (0..<(4 * count)).map { _ in Float(rng.nextNormal()) }
        var fast = start, portable = start
        let g = (0..<count).map { _ in Float(rng.nextNormal()) * 0.1 }
        for (buffer, kernel) in [(0, swiftps_adam), (1, swiftps_adam_portable)] {
            for step in 1...3 {
                let c1 = 1 - pow(Float(0.9), Float(step)), c2 = 1 - pow(Float(0.999), Float(step))
                func run(_ state: inout [Float]) {
                    state.withUnsafeMutableBufferPointer { s in
                        let base = s.baseAddress!
                        kernel(base, base + count, base + 2 * count, g, count, 0.9, 0.999, 1e-8, 0.01, 0.01 / c1,
                               1 / c2.squareRoot())
                    }
                }
                if buffer == 0 { run(&fast) } else { run(&portable) }
            }
        }
        #expect(fast.map(\.bitPattern) == portable.map(\.bitPattern))
        #expect(fast != start)
    }
}

#if canImport(Glibc)
import Glibc
#endif
