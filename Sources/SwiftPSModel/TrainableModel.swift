import SwiftPSCore

/// A model that Swift workers train through the servers: it declares its tensors, holds one parameter and one
/// gradient buffer per tensor (in declaration order, each laid out as its `TensorSpec` says), and computes forward
/// and backward one layer at a time, so that a layer's gradient can leave while the layers below still compute.
///
/// A layer here is the unit of pipelining: the tensors whose gradients become final together. Servers never see
/// this type; they hold the declared tensors. A new model is one file conforming to it, plus its name in `Models`.
/// Not thread-safe: one thread at a time uses an instance.
public protocol TrainableModel: AnyObject {
    /// The tensors this model declares, in the order the parameter space lists them.
    var tensors: [TensorSpec] { get }
    /// One buffer per tensor, same order.
    var parameters: [FloatBuffer] { get }
    /// One buffer per tensor, same order; written by `backward`.
    var gradients: [FloatBuffer] { get }
    var layerCount: Int { get }
    /// Indices into `tensors` of the tensors whose gradients `backward(layer:…)` finishes.
    func tensorIndices(ofLayer layer: Int) -> [Int]
    /// Features per sample and classes of the data the model reads.
    var inputs: Int { get }
    var classes: Int { get }
    /// The largest batch one call may pass.
    var maxBatch: Int { get }

    /// The forward pass through `layer` alone; layers run in order, 0 first, on the same `features` and `batch`.
    func forward(layer: Int, features: UnsafePointer<Float>, batch: Int)
    /// After the last layer's forward: the batch's mean loss, with the output's gradient scaled by `1 / parts`
    /// (gradient accumulation: part `part` of `parts` mini-batches).
    func lossAndDeltas(labels: UnsafePointer<Int32>, batch: Int, part: Int, of parts: Int) -> Float
    /// The backward pass through `layer` alone, last layer first: writes (or with `accumulate`, adds) its tensors'
    /// gradients.
    func backward(layer: Int, features: UnsafePointer<Float>, batch: Int, accumulate: Bool)
    /// Forward only over a whole data set: mean loss and fraction of correct predictions.
    func evaluate(_ data: Dataset) -> (loss: Double, accuracy: Double)
}

extension TrainableModel {
    /// Initialises every parameter as the servers do (`DeterministicInit`, offset 0): the standalone baseline starts
    /// from the same model as a distributed run.
    public func initialize(seed: UInt64) {
        for (index, spec) in tensors.enumerated() {
            DeterministicInit.fill(parameters[index].buffer, seed: seed, param: index, spec: spec, offset: 0)
        }
    }

    /// Forward + backward on `batch` samples, as part `part` of `parts` accumulated mini-batches (part 0 overwrites
    /// the gradients, later parts add to them); returns the batch's mean loss.
    public func lossAndGradients(features: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int,
                                 part: Int = 0, of parts: Int = 1) -> Float {
        for layer in 0..<layerCount { forward(layer: layer, features: features, batch: batch) }
        let loss = lossAndDeltas(labels: labels, batch: batch, part: part, of: parts)
        for layer in stride(from: layerCount - 1, through: 0, by: -1) {
            backward(layer: layer, features: features, batch: batch, accumulate: part > 0)
        }
        return loss
    }

    /// Layer of each tensor (index into `tensors`).
    public var layerOfTensor: [Int] {
        var layers = [Int](repeating: 0, count: tensors.count)
        for layer in 0..<layerCount {
            for index in tensorIndices(ofLayer: layer) { layers[index] = layer }
        }
        return layers
    }

    /// Checks that the job's parameter space is the one this model declares (names and shapes, in order).
    /// - Throws: FAILED_PRECONDITION naming the first tensor that differs.
    public func requireSpace(_ space: [TensorSpec]) throws(SwiftPSError) {
        for (index, mine) in tensors.enumerated() {
            guard index < space.count else {
                throw SwiftPSError(.failedPrecondition, "the job's parameter space has \(space.count) tensors; the model needs \(tensors.count)")
            }
            let theirs = space[index]
            guard theirs.name == mine.name, theirs.shape == mine.shape else {
                throw SwiftPSError(.failedPrecondition, "tensor \(index) of the job is '\(theirs.name)' \(theirs.shape); the model needs '\(mine.name)' \(mine.shape)")
            }
        }
        guard space.count == tensors.count else {
            throw SwiftPSError(.failedPrecondition, "the job's parameter space has \(space.count) tensors; the model declares \(tensors.count)")
        }
    }
}

/// The models Swift workers can train, by the name a training plan gives (`mlp:64,512,512,10`).
public enum Models {
    /// The model `spec` names, with buffers for batches of up to `maxBatch`.
    /// - Throws: INVALID_ARGUMENT for a name or sizes it does not know.
    public static func make(_ spec: String, maxBatch: Int) throws(SwiftPSError) -> any TrainableModel {
        MLP(layerSizes: try mlpSizes(spec), maxBatch: maxBatch)
    }

    /// The tensors the model `spec` declares, without allocating it.
    public static func tensors(_ spec: String) throws(SwiftPSError) -> [TensorSpec] {
        MLP.tensors(layerSizes: try mlpSizes(spec))
    }

    /// Features per sample and classes of the model `spec`.
    public static func dataShape(_ spec: String) throws(SwiftPSError) -> (inputs: Int, classes: Int) {
        let sizes = try mlpSizes(spec)
        return (sizes.first!, sizes.last!)
    }

    /// The sizes of `mlp:IN,HIDDEN…,CLASSES`.
    static func mlpSizes(_ spec: String) throws(SwiftPSError) -> [Int] {
        guard spec.hasPrefix("mlp:") else {
            throw SwiftPSError(.invalidArgument, spec.isEmpty
                ? "the training plan names no Swift model: the parameter space was declared by a client, which trains it"
                : "unknown model '\(spec)' (known: mlp:IN,HIDDEN...,CLASSES)")
        }
        let sizes = spec.dropFirst(4).split(separator: ",").map { Int($0) }
        guard sizes.count >= 2, sizes.allSatisfy({ ($0 ?? 0) > 0 }), sizes.last!! >= 2 else {
            throw SwiftPSError(.invalidArgument, "model '\(spec)': an MLP needs at least two positive sizes and 2 classes")
        }
        return sizes.map { $0! }
    }
}
