import Testing
import SwiftPSCore

/// Runs `config` from `weights` over one gradient per step; returns the weights and the state buffers after.
func run(_ config: OptimizerConfig, from weights: [Float], steps: [[Float]]) -> (weights: [Float], state: [Float]) {
    var w = weights
    var state = [Float](repeating: 0, count: max(1, config.stateBuffers * weights.count))
    for (index, gradient) in steps.enumerated() {
        w.withUnsafeMutableBufferPointer { w in
            state.withUnsafeMutableBufferPointer { s in
                Optimizer.apply(config, weights: w.baseAddress!, state: s.baseAddress!, gradient: gradient,
                                count: w.count, step: UInt64(index + 1))
            }
        }
    }
    return (w, Array(state.prefix(config.stateBuffers * weights.count)))
}

@Suite struct SGDTests {
    @Test func plainSGD() {
        let config = OptimizerConfig(kind: .sgd, learningRate: 0.1)
        // w -= lr·g.  step 1: 1 − 0.1·0.5 = 0.95,  −2 − 0.1·0.25 = −2.025
        //             step 2: 0.95 − 0.1·(−1) = 1.05,  −2.025 − 0.1·0.5 = −2.075
        let one = run(config, from: [1, -2], steps: [[0.5, 0.25]])
        #expect(areClose(one.weights, [0.95, -2.025]))
        let two = run(config, from: [1, -2], steps: [[0.5, 0.25], [-1, 0.5]])
        #expect(areClose(two.weights, [1.05, -2.075]))
        #expect(two.state.isEmpty)
    }

    @Test func sgdWithWeightDecay() {
        let config = OptimizerConfig(kind: .sgd, learningRate: 0.1, weightDecay: 0.01)
        // g' = g + 0.01·w.  step 1: g' = 0.5 + 0.01 = 0.51 → 1 − 0.051 = 0.949
        //                            g' = 0.25 − 0.02 = 0.23 → −2 − 0.023 = −2.023
        // step 2: g' = −1 + 0.00949 = −0.99051 → 0.949 + 0.099051 = 1.048051
        //         g' = 0.5 − 0.02023 = 0.47977 → −2.023 − 0.047977 = −2.070977
        let two = run(config, from: [1, -2], steps: [[0.5, 0.25], [-1, 0.5]])
        #expect(areClose(two.weights, [1.048051, -2.070977]))
    }
}

@Suite struct MomentumTests {
    @Test func momentumOverThreeSteps() {
        let config = OptimizerConfig(kind: .momentum, learningRate: 0.1, momentum: 0.9)
        // v = 0.9·v + g, w -= 0.1·v
        // w0 = 1,  g = 0.5, 0.5, −1:  v 0.5 → w 0.95;  v 0.45+0.5 = 0.95 → w 0.855;  v 0.855−1 = −0.145 → w 0.8695
        // w0 = −2, g = 0.25, −0.5, 0: v 0.25 → w −2.025;  v 0.225−0.5 = −0.275 → w −1.9975;
        //                             v −0.2475 → w −1.9975 + 0.02475 = −1.97275
        let steps: [[Float]] = [[0.5, 0.25], [0.5, -0.5], [-1, 0]]
        #expect(areClose(run(config, from: [1, -2], steps: Array(steps.prefix(2))).weights, [0.855, -1.9975]))
        let three = run(config, from: [1, -2], steps: steps)
        #expect(areClose(three.weights, [0.8695, -1.97275]))
        #expect(areClose(three.state, [-0.145, -0.2475]), "the velocity")
    }

    @Test func momentumWithWeightDecay() {
        let config = OptimizerConfig(kind: .momentum, learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
        // step 1: g' = 0.5 + 0.1·1 = 0.6, v = 0.6, w = 1 − 0.06 = 0.94
        // step 2: g' = 0.5 + 0.094 = 0.594, v = 0.54 + 0.594 = 1.134, w = 0.94 − 0.1134 = 0.8266
        let two = run(config, from: [1], steps: [[0.5], [0.5]])
        #expect(areClose(two.weights, [0.8266]))
        #expect(areClose(two.state, [1.134]))
    }
}

@Suite struct AdamTests {
    static let config = OptimizerConfig(kind: .adam, learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)

    /// m = 0.9m + 0.1g, v = 0.999v + 0.001g², w -= 0.1·(m/(1−0.9ᵗ)) / (√(v/(1−0.999ᵗ)) + 1e-8)
    ///
    /// w0 = 1, g = 0.5, −0.25, 0.125:
    /// t1: m 0.05, v 0.00025, m̂ 0.5, v̂ 0.25, √ 0.5 → w = 1 − 0.1·0.5/0.5 = 0.9 (−2e-9 for ε)
    /// t2: m 0.045 − 0.025 = 0.02, v 0.00024975 + 0.0000625 = 0.00031225, m̂ 0.02/0.19 = 0.1052631579,
    ///     v̂ 0.00031225/0.001999 = 0.1562031016, √ 0.3952253808 → w = 0.9 − 0.0266337013 = 0.8733662987
    /// t3: m 0.018 + 0.0125 = 0.0305, v 0.00031193775 + 0.000015625 = 0.00032756275, m̂ 0.0305/0.271 = 0.1125461255,
    ///     v̂ 0.00032756275/0.002997001 = 0.1092968437, √ 0.3306007316 → w = 0.8733662987 − 0.0340429138 = 0.8393233849
    /// w0 = −2, g = −1, 2, 0:
    /// t1: m −0.1, v 0.001, m̂ −1, v̂ 1 → w = −2 + 0.1 = −1.9
    /// t2: m −0.09 + 0.2 = 0.11, v 0.000999 + 0.004 = 0.004999, m̂ 0.5789473684, v̂ 2.5007503752, √ 1.5813760068
    ///     → w = −1.9 − 0.0366103535 = −1.9366103535
    /// t3: m 0.099, v 0.004994001, m̂ 0.3653136531, v̂ 1.6663327773, √ 1.2908650829 → w = −1.9649102620
    @Test func adamOverThreeSteps() {
        let steps: [[Float]] = [[0.5, -1], [-0.25, 2], [0.125, 0]]
        #expect(areClose(run(Self.config, from: [1, -2], steps: Array(steps.prefix(1))).weights, [0.9, -1.9]))
        #expect(areClose(run(Self.config, from: [1, -2], steps: Array(steps.prefix(2))).weights,
                         [0.8733662987, -1.9366103535]))
        let three = run(Self.config, from: [1, -2], steps: steps)
        #expect(areClose(three.weights, [0.8393233849, -1.9649102620]))
        #expect(areClose(Array(three.state.prefix(2)), [0.0305, 0.099]), "first moment m")
        // Float(0.999) is 0.99900001287, so 1 − β₂ is off by 1.3e-5 relative: v is checked to 1e-4.
        #expect(areClose(Array(three.state.suffix(2)), [0.00032756275, 0.004994001], relative: 1e-4), "second moment v")
    }

    /// Weight decay is added to the gradient (L2, not AdamW). w0 = 1, g = 0.5, 0.5, λ = 0.1:
    /// t1: g' = 0.6, m 0.06, v 0.00036, m̂ 0.6, v̂ 0.36 → w = 1 − 0.1 = 0.9
    /// t2: g' = 0.5 + 0.09 = 0.59, m 0.054 + 0.059 = 0.113, v 0.00035964 + 0.0003481 = 0.00070774,
    ///     m̂ 0.113/0.19 = 0.5947368421, v̂ 0.00070774/0.001999 = 0.3540470235, √ 0.5950185068
    ///     → w = 0.9 − 0.0999526595 = 0.8000473405
    @Test func adamWithWeightDecay() {
        var config = Self.config
        config.weightDecay = 0.1
        #expect(areClose(run(config, from: [1], steps: [[0.5]]).weights, [0.9]))
        #expect(areClose(run(config, from: [1], steps: [[0.5], [0.5]]).weights, [0.8000473405]))
    }

    @Test func stateBuffersPerRule() {
        #expect(OptimizerConfig(kind: .sgd, learningRate: 1).stateBuffers == 0)
        #expect(OptimizerConfig(kind: .momentum, learningRate: 1).stateBuffers == 1)
        #expect(OptimizerConfig(kind: .adam, learningRate: 1).stateBuffers == 2)
    }
}

@Suite struct MaxMagnitudeTests {
    static let finite: [Float] = [1, -0.0, 0, Float.leastNonzeroMagnitude, -Float.leastNormalMagnitude / 2,
                                  Float.greatestFiniteMagnitude, -Float.greatestFiniteMagnitude]

    @Test func finiteValuesGiveTheirLargestMagnitude() {
        #expect(Optimizer.maxMagnitude(Self.finite, count: Self.finite.count) == .greatestFiniteMagnitude)
        #expect(Optimizer.maxMagnitude([-3, 2, -0.5], count: 3) == 3)
        #expect(Optimizer.maxMagnitude([], count: 0) == 0)
    }

    @Test(arguments: [Float.nan, -Float.nan, Float.signalingNaN, Float.infinity, -Float.infinity],
          [0, 3, 6])
    func nonFiniteValueGivesInfinity(bad: Float, at position: Int) {
        var values = Self.finite
        values[position] = bad
        #expect(Optimizer.maxMagnitude(values, count: values.count) == .infinity)
    }

    /// The loop reads 16 values at a time in four vectors of 4, then a tail: a bad or largest value is found at
    /// every position of several such blocks and of the tail.
    @Test(arguments: [Float.nan, Float.infinity, -Float.infinity, -1e30, 1e30]) func everyLaneAndTheTailAreRead(odd: Float) {
        var values = (0..<75).map { Float($0) - 37.5 }
        values[6] = -Float.leastNonzeroMagnitude
        #expect(Optimizer.maxMagnitude(values, count: values.count) == 37.5)
        for position in values.indices {
            var changed = values
            changed[position] = odd
            let expected = odd.isFinite ? abs(odd) : .infinity
            #expect(Optimizer.maxMagnitude(changed, count: changed.count) == expected, "missed at \(position)")
        }
    }

    @Test func onlyTheFirstCountValuesAreRead() {
        let values: [Float] = [1, 2, .nan]
        #expect(Optimizer.maxMagnitude(values, count: 2) == 2)
        #expect(Optimizer.maxMagnitude(values, count: 3) == .infinity)
    }
}

/// The bounds that tell, without a pass over the weights, that an update stays finite.
@Suite struct UpdateBoundsTests {
    static let rules = [OptimizerConfig(kind: .sgd, learningRate: 0.5, weightDecay: 0.01),
                        OptimizerConfig(kind: .momentum, learningRate: 0.5, momentum: 0.9, weightDecay: 0.01),
                        OptimizerConfig(kind: .adam, learningRate: 0.01, weightDecay: 0.01),
                        OptimizerConfig(kind: .adam, learningRate: 0.5, beta1: 0.99, beta2: 0.9)]  // β1² ≥ β2

    static func all(_ value: Double) -> Optimizer.Magnitudes { .init(weights: value, first: value, second: value) }

    @Test(arguments: rules) func sensibleUpdatesAreKnownToStayFinite(config: OptimizerConfig) {
        #expect(Optimizer.bounds(config, magnitudes: Self.all(100), gradient: 1e6, step: 1).staysFinite)
        #expect(Optimizer.bounds(config, magnitudes: Self.all(1e10), gradient: 1e12, step: 1000).staysFinite)
        #expect(!Optimizer.bounds(config, magnitudes: Self.all(1), gradient: .greatestFiniteMagnitude, step: 1).staysFinite)
        #expect(!Optimizer.bounds(config, magnitudes: Self.all(3e38), gradient: 0, step: 1).staysFinite)
    }

    /// The bound is sound: carried through many updates from the initial weights, it stays at or above every weight
    /// and state value, and wherever it says "stays finite" the update does. Gradients range from 1e-30 to 1e38.
    @Test(arguments: rules) func theCarriedBoundHoldsThroughUpdates(config: OptimizerConfig) {
        var rng = SplitMix64(seed: 17)
        let count = 37, buffers = config.stateBuffers
        var weights = (0..<count).map { _ in Float(rng.nextNormal()) }
        var state = [Float](repeating: 0, count: max(1, buffers * count))
        func counted() -> Optimizer.Magnitudes {
            func largest(_ values: ArraySlice<Float>) -> Double { Double(values.map(abs).max() ?? 0) }
            return .init(weights: largest(weights[...]), first: buffers > 0 ? largest(state[0..<count]) : 0,
                         second: buffers > 1 ? largest(state[count..<(2 * count)]) : 0)
        }
        var bound = counted()
        var vouched = 0
        for step in 1...400 {
            let scale = Float(sign: .plus, exponent: Int(rng.next() % 226) - 100, significand: 1)
            let gradient = (0..<count).map { _ in Float(rng.nextNormal()) * scale }
            let bounds = Optimizer.bounds(config, magnitudes: bound, gradient: gradient.map(abs).max()!,
                                          step: UInt64(step))
            guard bounds.staysFinite else {
                bound = counted()  // as the store does: count again (and skip this update)
                continue
            }
            vouched += 1
            weights.withUnsafeMutableBufferPointer { w in
                state.withUnsafeMutableBufferPointer { s in
                    Optimizer.apply(config, weights: w.baseAddress!, state: s.baseAddress!, gradient: gradient,
                                    count: count, step: UInt64(step))
                }
            }
            bound = bounds.written
            let now = counted()
            #expect(now.weights <= bound.weights && now.first <= bound.first && now.second <= bound.second,
                    "step \(step): \(now) above \(bound)")
            #expect((weights + state).allSatisfy { $0.isFinite }, "step \(step)")
        }
        #expect(vouched > 100, "the bound vouched for \(vouched) of 400 updates")
    }

    @Test func adamWithoutEpsilonHasNoBound() {
        let config = OptimizerConfig(kind: .adam, learningRate: 0.01, epsilon: 0)
        #expect(!Optimizer.bounds(config, magnitudes: Self.all(1), gradient: 1, step: 1).staysFinite)
    }
}
