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
            adam(config, weights: weights, m: state, v: state + count, gradient: gradient, count: count, step: step)
        }
    }

    /// Adam with bias correction: the per-call constants here, the loop in C (`swiftps_adam`), because Swift's
    /// square root goes through libm with errno semantics and would not vectorise.
    private static func adam(_ config: OptimizerConfig, weights: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                             v: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, count: Int, step: UInt64) {
        let t = Float(step)
        let correction1 = 1 - pow(config.beta1, t), correction2 = 1 - pow(config.beta2, t)
        swiftps_adam(weights, m, v, gradient, count, config.beta1, config.beta2, config.epsilon, config.weightDecay,
                     config.learningRate / correction1, 1 / correction2.squareRoot())
    }

    /// True when every value is finite (no NaN, no ±Inf); the loop is in C (`swiftps_all_finite`), with independent
    /// sums that run at cache speed.
    public static func allFinite(_ values: UnsafePointer<Float>, count: Int) -> Bool {
        swiftps_all_finite(values, count) != 0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
