/// One named tensor of the parameter space: its shape, how its initial values are made, and how the servers'
/// optimizer treats it. Servers and the coordinator know the model only as a list of these (ps-lite's lesson: the
/// server speaks keys and values, the model lives in the client).
public struct TensorSpec: Sendable, Equatable {
    /// How a tensor's initial values are made; every element is a pure function of (seed, tensor index, element).
    public enum Initializer: Sendable, Equatable {
        case zeros
        case ones
        case constant(Float)
        /// Mean 0 and this standard deviation.
        case normal(std: Float)
        /// Uniform in `[low, high)`.
        case uniform(low: Float, high: Float)
        /// Normal with standard deviation `sqrt(2 / fanIn)` (He et al., for ReLU layers).
        case heNormal
        /// Uniform in `±sqrt(6 / (fanIn + fanOut))` (Glorot and Bengio).
        case xavierUniform
        /// Uploaded by a client with Assign; until then the tensor is not served.
        case pushed
    }

    /// How the elements are stored; only dense for now (row-sparse embedding tables would be the next).
    public enum Layout: Int, Sendable, Equatable {
        case dense = 0
    }

    public var name: String
    /// Row-major dimensions, at least one; the element count is their product.
    public var shape: [Int]
    public var initializer: Initializer
    /// Fan-in and fan-out of He/Xavier initialisation; 0 takes them from the shape (see `fans`).
    public var fanIn: Int
    public var fanOut: Int
    /// Multiplies the job's learning rate for this tensor.
    public var lrScale: Float
    /// Whether the job's weight decay applies (PyTorch users exempt biases, norms and embeddings).
    public var weightDecay: Bool
    /// Pushes to a frozen tensor are validated and counted but change nothing (fine-tuning).
    public var frozen: Bool
    public var layout: Layout

    public init(name: String, shape: [Int], initializer: Initializer = .zeros, fanIn: Int = 0, fanOut: Int = 0,
                lrScale: Float = 1, weightDecay: Bool = true, frozen: Bool = false, layout: Layout = .dense) {
        self.name = name
        self.shape = shape
        self.initializer = initializer
        self.fanIn = fanIn
        self.fanOut = fanOut
        self.lrScale = lrScale
        self.weightDecay = weightDecay
        self.frozen = frozen
        self.layout = layout
    }

    /// Elements: the product of the shape (saturating, so that a hostile shape cannot trap; `validate` refuses it).
    public var count: Int {
        shape.reduce(1) { product, dimension in
            let (result, overflow) = product.multipliedReportingOverflow(by: dimension)
            return overflow ? Int.max : result
        }
    }

    /// Fan-in and fan-out for He/Xavier: the explicit ones, else `shape[0]` and `shape[1]` — the `[in, out]` layout
    /// of swiftps's own models (a 1-D tensor has fan-out 1).
    public var fans: (fanIn: Int, fanOut: Int) {
        (fanIn > 0 ? fanIn : shape[0], fanOut > 0 ? fanOut : (shape.count > 1 ? shape[1] : 1))
    }

    /// The job's optimizer as this tensor sees it: its learning-rate scale and weight-decay exemption applied.
    public func optimizer(_ job: OptimizerConfig) -> OptimizerConfig {
        var config = job
        config.learningRate *= lrScale
        if !weightDecay { config.weightDecay = 0 }
        return config
    }
}

extension TensorSpec {
    /// Most tensors in one parameter space: the key keeps the tensor index in 32 bits; a shard map's size is bounded.
    public static let maxTensors = 1 << 16
    /// Most elements of one tensor (8 GiB of fp32), and of a whole space.
    public static let maxElements = 1 << 31

    /// Checks a whole parameter space: at least one tensor, unique non-empty names, positive dimensions, sizes within
    /// the limits, finite initialiser arguments and learning-rate scales.
    public static func validate(_ tensors: [TensorSpec]) throws(SwiftPSError) {
        guard !tensors.isEmpty else { throw SwiftPSError(.invalidArgument, "the parameter space declares no tensor") }
        guard tensors.count <= maxTensors else {
            throw SwiftPSError(.invalidArgument, "\(tensors.count) tensors; at most \(maxTensors)")
        }
        var names = Set<String>(), total = 0
        for spec in tensors {
            let label = spec.name.isEmpty ? "a tensor" : "tensor '\(spec.name)'"
            guard !spec.name.isEmpty, spec.name.utf8.count <= 256 else {
                throw SwiftPSError(.invalidArgument, "\(label): a name of 1 to 256 bytes is needed")
            }
            guard names.insert(spec.name).inserted else {
                throw SwiftPSError(.invalidArgument, "tensor '\(spec.name)' is declared twice")
            }
            guard !spec.shape.isEmpty, spec.shape.count <= 8, spec.shape.allSatisfy({ $0 > 0 }) else {
                throw SwiftPSError(.invalidArgument, "\(label): shape \(spec.shape) needs 1 to 8 positive dimensions")
            }
            guard spec.count <= maxElements else {
                throw SwiftPSError(.invalidArgument, "\(label): \(spec.shape) is more than \(maxElements) elements")
            }
            total += spec.count
            guard total <= maxElements else {
                throw SwiftPSError(.invalidArgument, "the parameter space is more than \(maxElements) elements")
            }
            guard spec.fanIn >= 0, spec.fanOut >= 0 else {
                throw SwiftPSError(.invalidArgument, "\(label): fan_in and fan_out must not be negative")
            }
            guard spec.lrScale.isFinite, spec.lrScale > 0 else {
                throw SwiftPSError(.invalidArgument, "\(label): lr_scale must be positive and finite (to keep a tensor fixed, declare it frozen)")
            }
            try spec.initializer.validate(label)
        }
    }
}

extension TensorSpec.Initializer: CustomStringConvertible {
    /// The text form of files and flags: `zeros`, `ones`, `constant:V`, `normal:STD`, `uniform:A,B`, `he_normal`,
    /// `xavier_uniform`, `pushed`.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let numbers = parts.count == 2 ? parts[1].split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) } : []
        guard numbers.allSatisfy({ $0 != nil }) else { return nil }
        let values = numbers.map { $0! }
        switch (parts.first ?? "", values.count) {
        case ("zeros", 0) where parts.count == 1: self = .zeros
        case ("ones", 0) where parts.count == 1: self = .ones
        case ("constant", 1): self = .constant(values[0])
        case ("normal", 1): self = .normal(std: values[0])
        case ("uniform", 2): self = .uniform(low: values[0], high: values[1])
        case ("he_normal", 0) where parts.count == 1: self = .heNormal
        case ("xavier_uniform", 0) where parts.count == 1: self = .xavierUniform
        case ("pushed", 0) where parts.count == 1: self = .pushed
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .zeros: "zeros"
        case .ones: "ones"
        case .constant(let value): "constant:\(value)"
        case .normal(let std): "normal:\(std)"
        case .uniform(let low, let high): "uniform:\(low),\(high)"
        case .heNormal: "he_normal"
        case .xavierUniform: "xavier_uniform"
        case .pushed: "pushed"
        }
    }

    func validate(_ label: String) throws(SwiftPSError) {
        switch self {
        case .constant(let value) where !value.isFinite,
             .normal(let value) where !value.isFinite || value < 0:
            throw SwiftPSError(.invalidArgument, "\(label): \(self) needs a finite, non-negative argument")
        case .uniform(let low, let high) where !low.isFinite || !high.isFinite || low > high:
            throw SwiftPSError(.invalidArgument, "\(label): \(self) needs finite bounds, low ≤ high")
        default: return
        }
    }
}

import Foundation
