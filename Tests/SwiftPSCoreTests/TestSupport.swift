import SwiftPSCore

/// True when `actual` is within `relative` of `expected`, relatively (an expected 0 must be met exactly).
func isClose(_ actual: Float, _ expected: Double, relative: Double = 1e-6) -> Bool {
    abs(Double(actual) - expected) <= relative * abs(expected)
}

func areClose(_ actual: [Float], _ expected: [Double], relative: Double = 1e-6) -> Bool {
    actual.count == expected.count && zip(actual, expected).allSatisfy { isClose($0, $1, relative: relative) }
}

/// One push's tensor before it is laid out in memory.
struct TestTensor {
    var key: UInt64
    var dtype: DType = .f32
    var count: Int
    var bytes: [UInt8]

    init(key: UInt64, values: [Float]) {
        self.key = key
        count = values.count
        bytes = values.withUnsafeBytes { Array($0) }
    }

    init(key: UInt64, dtype: DType, count: Int, bytes: [UInt8]) {
        self.key = key
        self.dtype = dtype
        self.count = count
        self.bytes = bytes
    }
}

/// Lays `tensors` out back to back in one buffer, starting `misalign` bytes past an aligned address, and lends
/// views of them for the call.
func withViews<R>(_ tensors: [TestTensor], misalign: Int = 0, _ body: ([TensorView]) throws -> R) rethrows -> R {
    let total = tensors.reduce(misalign) { $0 + $1.bytes.count }
    let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 16)
    defer { memory.deallocate() }
    var offset = misalign
    var views: [TensorView] = []
    for t in tensors {
        let slice = UnsafeMutableRawBufferPointer(rebasing: memory[offset..<(offset + t.bytes.count)])
        slice.copyBytes(from: t.bytes)
        views.append(TensorView(key: t.key, dtype: t.dtype, count: t.count, bytes: UnsafeRawBufferPointer(slice)))
        offset += t.bytes.count
    }
    return try body(views)
}

extension ParameterStore {
    /// Every key's weights (as bit patterns, so NaN and -0 compare exactly) and version.
    func snapshot() -> [UInt64: (bits: [UInt32], version: UInt64)] {
        var out: [UInt64: (bits: [UInt32], version: UInt64)] = [:]
        for key in keys {
            out[key] = withWeights(of: key) { weights, version in (weights.map(\.bitPattern), version) }
        }
        return out
    }

    func weights(of key: UInt64) -> [Float] { withWeights(of: key) { weights, _ in Array(weights) } ?? [] }
}

func sameSnapshot(_ a: [UInt64: (bits: [UInt32], version: UInt64)],
                  _ b: [UInt64: (bits: [UInt32], version: UInt64)]) -> Bool {
    a.count == b.count && a.allSatisfy { key, value in b[key].map { $0.bits == value.bits && $0.version == value.version } ?? false }
}
