#if canImport(Glibc)
import Glibc
#endif

/// Scratch memory for building protobuf-c structs before packing; everything is freed when the arena goes.
///
/// protobuf-c messages point at their strings, arrays and sub-messages; the arena keeps those alive for exactly as
/// long as one `pack` needs them. Confined to the encoding call that creates it.
final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit { for block in blocks { free(block) } }

    /// A copy of `value` in arena memory.
    func new<T>(_ value: T) -> UnsafeMutablePointer<T> {
        let p = allocate(T.self, count: 1)
        p.initialize(to: value)
        return p
    }

    /// A C array copied from `values`; nil when empty (protobuf-c reads no pointer for a zero count).
    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty else { return nil }
        let p = allocate(T.self, count: values.count)
        _ = UnsafeMutableBufferPointer(start: p, count: values.count).initialize(from: values)
        return p
    }

    /// A NUL-terminated copy of `string`.
    func string(_ string: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = Array(string.utf8CString)
        let p = allocate(CChar.self, count: utf8.count)
        _ = UnsafeMutableBufferPointer(start: p, count: utf8.count).initialize(from: utf8)
        return p
    }

    private func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let raw = malloc(max(1, MemoryLayout<T>.stride * count))!
        blocks.append(raw)
        return raw.bindMemory(to: T.self, capacity: count)
    }
}
