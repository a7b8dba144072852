/// A labelled classification data set held in memory: features row-major (count × inputs), labels in 0..<classes.
public struct Dataset: Sendable {
    public let inputs: Int
    public let classes: Int
    public let features: [Float]
    public let labels: [Int32]

    public var count: Int { labels.count }

    /// - Precondition: `features.count == labels.count * inputs` and every label is in `0..<classes`.
    public init(inputs: Int, classes: Int, features: [Float], labels: [Int32]) {
        precondition(inputs > 0 && classes > 0, "a data set needs at least one input and one class")
        precondition(features.count == labels.count * inputs,
                     "\(features.count) features for \(labels.count) samples of \(inputs) inputs")
        precondition(labels.allSatisfy { $0 >= 0 && Int($0) < classes }, "a label is outside 0..<\(classes)")
        self.inputs = inputs
        self.classes = classes
        self.features = features
        self.labels = labels
    }

    /// Contiguous part `rank` of `parts`; the parts cover every sample exactly once, sizes differ by at most one.
    ///
    /// The first `count % parts` parts get one sample more, so every worker of a job computes the same split
    /// without talking to the others.
    public func shard(rank: Int, of parts: Int) -> Dataset {
        precondition(parts > 0 && (0..<parts).contains(rank), "rank \(rank) is not in 0..<\(parts)")
        let base = count / parts, extra = count % parts
        let start = rank * base + min(rank, extra)
        let end = start + base + (rank < extra ? 1 : 0)
        return Dataset(inputs: inputs, classes: classes,
                       features: Array(features[(start * inputs)..<(end * inputs)]),
                       labels: Array(labels[start..<end]))
    }

    /// Fraction of samples whose label is the most frequent label (the accuracy of always guessing it); 0 when empty.
    public var majorityRate: Double {
        guard count > 0 else { return 0 }
        var counts = [Int](repeating: 0, count: classes)
        for label in labels { counts[Int(label)] += 1 }
        return Double(counts.max()!) / Double(count)
    }
}
