import Foundation

extension TensorSpec {
    /// Reads a parameter space from its JSON form (`--params FILE.json`, docs/protocol.md):
    /// `{"tensors": [{"name": "w", "shape": [784, 10], "init": "he_normal", "fan_in": 0, "fan_out": 0,
    /// "lr_scale": 1, "weight_decay": true, "frozen": false}]}`; only `name` and `shape` are required.
    /// - Throws: INVALID_ARGUMENT naming the tensor and the field that is wrong; the space is validated whole.
    public static func space(json: Data) throws(SwiftPSError) -> [TensorSpec] {
        let file: SpaceFile
        do {
            file = try JSONDecoder().decode(SpaceFile.self, from: json)
        } catch let error as SwiftPSError {
            throw error
        } catch DecodingError.dataCorrupted(let context) {
            throw SwiftPSError(.invalidArgument, "not JSON: \(context.debugDescription)")
        } catch DecodingError.keyNotFound(let key, let context) {
            throw SwiftPSError(.invalidArgument, "\(path(context.codingPath)): \"\(key.stringValue)\" is required")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            throw SwiftPSError(.invalidArgument, "\(path(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw SwiftPSError(.invalidArgument, "\(error)")
        }
        try validate(file.tensors)
        return file.tensors
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
    }

    private struct SpaceFile: Decodable {
        var tensors: [TensorSpec]
    }
}

extension TensorSpec: Decodable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private static let fields = ["name", "shape", "init", "fan_in", "fan_out", "lr_scale", "weight_decay", "frozen"]

    /// One tensor of a JSON parameter space; an unknown field is an error (a misspelt "frozen" must not pass).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let name = try c.decode(String.self, forKey: Key(stringValue: "name"))
        if let unknown = c.allKeys.map(\.stringValue).sorted().first(where: { !Self.fields.contains($0) }) {
            throw SwiftPSError(.invalidArgument,
                               "tensor '\(name)': unknown field '\(unknown)' (known: \(Self.fields.joined(separator: ", ")))")
        }
        self.init(name: name, shape: try c.decode([Int].self, forKey: Key(stringValue: "shape")))
        if let text = try c.decodeIfPresent(String.self, forKey: Key(stringValue: "init")) {
            guard let initializer = Initializer(parsing: text) else {
                throw SwiftPSError(.invalidArgument, "tensor '\(name)': init '\(text)' is not zeros, ones, constant:V, "
                                   + "normal:STD, uniform:A,B, he_normal, xavier_uniform or pushed")
            }
            self.initializer = initializer
        }
        fanIn = try c.decodeIfPresent(Int.self, forKey: Key(stringValue: "fan_in")) ?? 0
        fanOut = try c.decodeIfPresent(Int.self, forKey: Key(stringValue: "fan_out")) ?? 0
        lrScale = try c.decodeIfPresent(Float.self, forKey: Key(stringValue: "lr_scale")) ?? 1
        weightDecay = try c.decodeIfPresent(Bool.self, forKey: Key(stringValue: "weight_decay")) ?? true
        frozen = try c.decodeIfPresent(Bool.self, forKey: Key(stringValue: "frozen")) ?? false
    }
}
