/// Element type of a tensor payload on the wire. Servers always keep fp32 masters.
public enum DType: Int, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 1
    case bf16 = 2
    case f16 = 3

    public var byteWidth: Int {
        switch self {
        case .f32: 4
        case .bf16, .f16: 2
        }
    }

    public var description: String {
        switch self {
        case .f32: "f32"
        case .bf16: "bf16"
        case .f16: "f16"
        }
    }
}
