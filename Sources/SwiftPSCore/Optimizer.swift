import Foundation
internal import CKernels

/// Which update rule the servers apply, and its hyper-parameters.
///
/// Weight decay is L2 regularisation added to the gradient (`g + λ·w`) before the rule, as PyTorch's `SGD` and
/// `Adam` do (not AdamW's decoupled form).
public struct OptimizerConfig: Sendable, Equatable {
    public enum Kind: Int, Sendable, CaseIterable {
        case sgd = 1
        case momentum = 2
        case adam = 3
    }

    public var kind: Kind
    public var learningRate: Float
    public var momentum: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float

    public init(kind: Kind, learningRate: Float, momentum: Float = 0.9, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0) {
        self.kind = kind
        self.learningRate = learningRate
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// How many fp32 state buffers the rule keeps beside the weights (momentum: velocity; Adam: m and v).
    public var stateBuffers: Int {
        switch kind {
        case .sgd: 0
        case .momentum: 1
        case .adam: 2
        }
    }
}

/// The update rules over raw buffers: the server's hot path, no allocation. The loops are in C (`Sources/CKernels`),
/// with AVX where the CPU has it.
public enum Optimizer {
    /// Applies one gradient to `weights` in place.
    /// - Parameters:
    ///   - state: `config.stateBuffers × count` floats, updated in place (momentum: velocity; Adam: m then v).
    ///   - step: 1 for the first update of these weights, 2 for the second… (Adam's bias correction).
    public static func apply(_ config: OptimizerConfig, weights: UnsafeMutablePointer<Float>,
                             state: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, count: Int,
                             step: UInt64) {
        let lr = config.learningRate, wd = config.weightDecay
        switch config.kind {
        case .sgd:
            swiftps_sgd(weights, gradient, count, lr, wd)
        case .momentum:
            swiftps_momentum(weights, state, gradient, count, lr, config.momentum, wd)
        case .adam:
            let (stepSize, inverseRoot) = adamFactors(config, step: step)
            swiftps_adam(weights, state, state + count, gradient, count, config.beta1, config.beta2, config.epsilon,
                         wd, stepSize, inverseRoot)
        }
    }

    /// Adam's per-step constants, with bias correction: the step size lr / (1 − β1^t) and 1 / √(1 − β2^t). The loop
    /// is in C (`swiftps_adam`), because Swift's square root goes through libm with errno semantics and would not
    /// vectorise.
    private static func adamFactors(_ config: OptimizerConfig, step: UInt64) -> (stepSize: Float, inverseRoot: Float) {
        let t = Float(step)
        let correction1 = 1 - pow(config.beta1, t), correction2 = 1 - pow(config.beta2, t)
        return (config.learningRate / correction1, 1 / correction2.squareRoot())
    }

    /// The largest |x| of the values, or +Inf when one is NaN or ±Inf; the loop is in C (`swiftps_max_magnitude`),
    /// with independent maxima that run at cache speed.
    public static func maxMagnitude(_ values: UnsafePointer<Float>, count: Int) -> Float {
        swiftps_max_magnitude(values, count)
    }

    /// Upper bounds on the magnitudes in a chunk: its weights, and its state buffers (momentum's velocity; Adam's m,
    /// then v), each at least as large as the largest |x| it holds.
    public struct Magnitudes: Sendable, Equatable {
        public var weights: Double
        public var first: Double
        public var second: Double

        public init(weights: Double, first: Double = 0, second: Double = 0) {
            self.weights = weights
            self.first = first
            self.second = second
        }
    }

    /// Upper bounds on one update, in Double: `written` on what it leaves in the weights and the state, `largest` on
    /// every value it computes on the way. Infinite or NaN when there is no bound (Adam with ε ≤ 0, say).
    public struct Bounds: Sendable {
        public var written: Magnitudes
        public var largest: Double

        /// `written` is raised by a millionth, more than fp32's rounding can add in one update (a few ulps of
        /// 6e-8), so that it stays a bound however many updates it is carried through.
        init(written: Magnitudes, largest: Double) {
            self.written = Magnitudes(weights: written.weights * (1 + 1e-6), first: written.first * (1 + 1e-6),
                                      second: written.second * (1 + 1e-6))
            self.largest = max(largest, self.written.weights, self.written.first, self.written.second)
        }

        /// The update is sure to compute only finite values: `largest` with a factor of 2 to spare for rounding.
        /// False means "not sure", not "will overflow".
        public var staysFinite: Bool { largest * 2 < Double(Float.greatestFiniteMagnitude) }  // false for NaN
    }

    /// Bounds on one update of a chunk whose values are within `magnitudes` (its state built by this rule, from
    /// zero) by a gradient whose values are within `gradient`.
    public static func bounds(_ config: OptimizerConfig, magnitudes: Magnitudes, gradient: Float, step: UInt64) -> Bounds {
        let w = magnitudes.weights, lr = Double(abs(config.learningRate)), wd = Double(abs(config.weightDecay))
        let g = Double(gradient) + wd * w  // g + λ·w
        switch config.kind {
        case .sgd:
            // w − lr·(g + λ·w) = (1 − lr·λ)·w − lr·g
            let weights = abs(1 - Double(config.learningRate) * Double(config.weightDecay)) * w + lr * Double(gradient)
            return Bounds(written: Magnitudes(weights: weights), largest: max(g, lr * g, w + lr * g))
        case .momentum:
            let velocity = Double(abs(config.momentum)) * magnitudes.first + g
            return Bounds(written: Magnitudes(weights: w + lr * velocity, first: velocity), largest: lr * velocity)
        case .adam:
            let (stepSize, inverseRoot) = adamFactors(config, step: step)
            let (beta1, beta2, epsilon) = (Double(config.beta1), Double(config.beta2), Double(config.epsilon))
            // √v·c + ε ≥ ε needs v ≥ 0 and ε > 0.
            guard epsilon > 0, (0..<1).contains(beta2), (0..<1).contains(beta1) else {
                return Bounds(written: Magnitudes(weights: .infinity), largest: .infinity)
            }
            let m = beta1 * magnitudes.first + (1 - beta1) * g, v = beta2 * magnitudes.second + (1 - beta2) * g * g
            // |m| / (√v·c + ε). For m and v that Adam built from zero, |m| ≤ r·√v (Cauchy–Schwarz over their sums),
            // with r = (1 − β1) / √((1 − β2)(1 − β1²/β2)) when β1² < β2; where v is too small for that to hold in
            // fp32, |m| is below 1e-6.
            let ratio = beta1 * beta1 < beta2
                ? max((1 - beta1) / ((1 - beta2) * (1 - beta1 * beta1 / beta2)).squareRoot() / Double(inverseRoot),
                      1e-6 / epsilon)
                : m / epsilon
            let numerator = Double(abs(stepSize)) * m
            return Bounds(written: Magnitudes(weights: w + Double(abs(stepSize)) * ratio, first: m, second: v),
                          largest: max(g, (1 - beta2) * g, numerator, v.squareRoot() * Double(inverseRoot) + epsilon))
        }
    }
}
