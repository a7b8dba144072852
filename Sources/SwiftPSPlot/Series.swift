import Foundation

/// One figure over training steps, read from a metrics file.
public struct Series: Sendable, Equatable {
    public var name: String
    public var unit: String
    public var points: [(x: Double, y: Double)]

    public init(name: String, unit: String, points: [(x: Double, y: Double)]) {
        self.name = name
        self.unit = unit
        self.points = points
    }

    public static func == (a: Series, b: Series) -> Bool {
        a.name == b.name && a.unit == b.unit && a.points.elementsEqual(b.points) { $0.x == $1.x && $0.y == $1.y }
    }
}

/// Reads the step records of a metrics file (JSON lines, `"type":"step"`).
public enum MetricsFile {
    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
    }

    /// The loss and throughput series, by step.
    /// - Throws: naming the line, for a line that is not JSON, or when there is no step record at all.
    public static func series(from text: String) throws -> [Series] {
        var loss: [(x: Double, y: Double)] = [], rate: [(x: Double, y: Double)] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw Error(description: "line \(index + 1) is not a JSON object")
            }
            guard object["type"] as? String == "step", let step = (object["step"] as? NSNumber)?.doubleValue else { continue }
            if let value = (object["loss"] as? NSNumber)?.doubleValue, value.isFinite { loss.append((step, value)) }
            if let value = (object["samples_per_second"] as? NSNumber)?.doubleValue, value.isFinite { rate.append((step, value)) }
        }
        guard !loss.isEmpty || !rate.isEmpty else { throw Error(description: "no step records") }
        return [Series(name: "training loss", unit: "loss", points: loss),
                Series(name: "throughput", unit: "samples/s", points: rate)].filter { !$0.points.isEmpty }
    }
}
