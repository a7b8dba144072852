/// A named parameter tensor of the model, flattened.
public struct ParamSpec: Sendable, Equatable {
    public var name: String
    public var count: Int
    /// Fan-in for He initialisation; 0 means the tensor starts at zero (biases).
    public var fanIn: Int

    public init(name: String, count: Int, fanIn: Int) {
        self.name = name
        self.count = count
        self.fanIn = fanIn
    }

    /// The parameters of a multilayer perceptron with the given layer sizes (input, hidden…, classes):
    /// per layer a weight matrix `in × out` (row-major) and a bias of `out`.
    public static func mlp(layerSizes: [Int]) -> [ParamSpec] {
        var specs: [ParamSpec] = []
        for layer in 0..<(layerSizes.count - 1) {
            let fanIn = layerSizes[layer], fanOut = layerSizes[layer + 1]
            specs.append(ParamSpec(name: "layer\(layer).weight", count: fanIn * fanOut, fanIn: fanIn))
            specs.append(ParamSpec(name: "layer\(layer).bias", count: fanOut, fanIn: 0))
        }
        return specs
    }
}
