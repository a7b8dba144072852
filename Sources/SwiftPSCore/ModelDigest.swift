/// A 64-bit FNV-1a hash of a model's float bit patterns, in parameter order: equal digests mean bit-identical
/// weights (to show that BSP runs are reproducible, across runs and across numbers of servers).
public enum ModelDigest {
    public static func of(_ tensors: [UnsafeBufferPointer<Float>]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for tensor in tensors {
            for value in tensor {
                var bits = value.bitPattern
                for _ in 0..<4 {
                    hash = (hash ^ UInt64(bits & 0xFF)) &* 0x100_0000_01b3
                    bits >>= 8
                }
            }
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
