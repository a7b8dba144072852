/// One JSON object built field by field, in the order written (the metrics file puts `"type"` first, which
/// `JSONEncoder` does not promise). Non-finite numbers, which JSON cannot spell, become `null`.
struct JSONObject: CustomStringConvertible {
    private var fields: [String] = []

    var description: String { "{" + fields.joined(separator: ",") + "}" }

    private mutating func raw(_ key: String, _ value: String) {
        fields.append(Self.quoted(key) + ":" + value)
    }

    mutating func add(_ key: String, _ value: Int) { raw(key, "\(value)") }
    mutating func add(_ key: String, _ value: UInt64) { raw(key, "\(value)") }
    mutating func add(_ key: String, _ value: UInt32) { raw(key, "\(value)") }
    mutating func add(_ key: String, _ value: Bool) { raw(key, value ? "true" : "false") }
    mutating func add(_ key: String, _ value: Double) { raw(key, value.isFinite ? "\(value)" : "null") }
    /// Floats as Swift prints them (`0.05`, not the `0.05000000074505806` of their Double).
    mutating func add(_ key: String, _ value: Float) { raw(key, value.isFinite ? "\(value)" : "null") }
    mutating func add(_ key: String, _ value: String?) { raw(key, value.map(Self.quoted) ?? "null") }
    mutating func add(_ key: String, _ value: [Int]) { raw(key, "[" + value.map { "\($0)" }.joined(separator: ",") + "]") }
    mutating func add(_ key: String, _ value: JSONObject) { raw(key, value.description) }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
