/// Element encoding of a tensor payload on the wire. Servers always keep fp32 masters.
///
/// f32, bf16 and f16 are dense (pushes and pulls); int8 and topk are gradient compression (pushes only).
public enum DType: Int, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 1
    case bf16 = 2
    case f16 = 3
    /// One fp32 scale (little-endian) then one signed byte per element.
    case int8 = 4
    /// k pairs of (UInt32 index, fp32 value), little-endian; the other elements are zero.
    case topK = 5

    /// The dense encodings, in which values are also served.
    public static let dense: [DType] = [.f32, .bf16, .f16]

    public var isDense: Bool { DType.dense.contains(self) }

    /// Bytes per element of a dense encoding (int8: 1, plus its scale; top-k: 0, variable).
    public var byteWidth: Int {
        switch self {
        case .f32: 4
        case .bf16, .f16: 2
        case .int8: 1
        case .topK: 0
        }
    }

    /// Whether a payload of `byteCount` bytes is well formed for `count` elements.
    public func accepts(byteCount: Int, count: Int) -> Bool {
        switch self {
        case .f32, .bf16, .f16: byteCount == count * byteWidth
        case .int8: byteCount == 4 + count
        case .topK: byteCount > 0 && byteCount % 8 == 0 && byteCount / 8 <= count
        }
    }

    public var description: String {
        switch self {
        case .f32: "f32"
        case .bf16: "bf16"
        case .f16: "f16"
        case .int8: "int8"
        case .topK: "topk"
        }
    }
}
