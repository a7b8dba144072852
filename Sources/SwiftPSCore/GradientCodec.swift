/// How a worker compresses the gradients it pushes.
public enum Compression: Sendable, Equatable, CustomStringConvertible {
    case none
    /// The largest `fraction` of the elements by magnitude, as (index, value) pairs.
    case topK(fraction: Double)
    /// Every element as a signed byte, with one fp32 scale per tensor (per chunk on the wire).
    case int8

    /// Parses `none`, `int8` or `topk:FRACTION` (0 < FRACTION <= 1).
    public init?(parsing text: String) {
        let lower = text.lowercased()
        if lower == "none" { self = .none; return }
        if lower == "int8" { self = .int8; return }
        guard lower.hasPrefix("topk:"), let fraction = Double(lower.dropFirst(5)), fraction > 0, fraction <= 1 else {
            return nil
        }
        self = .topK(fraction: fraction)
    }

    public var description: String {
        switch self {
        case .none: "none"
        case .topK(let fraction): "topk:\(fraction)"
        case .int8: "int8"
        }
    }

    /// The dtype its payloads carry on the wire; nil for `none`.
    public var dtype: DType? {
        switch self {
        case .none: nil
        case .topK: .topK
        case .int8: .int8
        }
    }
}

/// Compressed gradient payloads, with error feedback: what is not sent stays in the worker's residual and is added
/// to the next gradient (the residual is the caller's buffer: gradient in, leftover out).
public enum GradientCodec {
    /// Elements a top-k payload of a `count`-element tensor carries.
    public static func k(_ fraction: Double, count: Int) -> Int {
        max(1, min(count, Int((Double(count) * fraction).rounded(.up))))
    }

    /// Bytes of the payload for a `count`-element tensor.
    public static func payloadBytes(_ compression: Compression, count: Int) -> Int {
        switch compression {
        case .none: count * 4
        case .topK(let fraction): k(fraction, count: count) * 8
        case .int8: 4 + count
        }
    }

    /// Encodes `residual` into `payload` (`payloadBytes` long) and leaves in `residual` exactly what was not sent.
    /// - Parameter scratch: at least `count` floats, for top-k's selection (unused otherwise).
    public static func encode(_ compression: Compression, residual: UnsafeMutablePointer<Float>, count: Int,
                              payload: UnsafeMutableRawPointer, scratch: UnsafeMutablePointer<Float>) {
        switch compression {
        case .none:
            payload.copyMemory(from: residual, byteCount: count * 4)
            residual.update(repeating: 0, count: count)
        case .topK(let fraction):
            encodeTopK(residual: residual, count: count, k: k(fraction, count: count), payload: payload, scratch: scratch)
        case .int8:
            encodeInt8(residual: residual, count: count, payload: payload)
        }
    }

    /// Dense fp32 from a compressed payload (top-k: zero where nothing was sent).
    /// - Throws: INVALID_ARGUMENT for a payload of the wrong length or a top-k index out of range.
    public static func decode(_ dtype: DType, payload: UnsafeRawBufferPointer, count: Int,
                              into output: UnsafeMutablePointer<Float>) throws(SwiftPSError) {
        guard dtype.accepts(byteCount: payload.count, count: count) else {
            throw SwiftPSError(.invalidArgument, "\(dtype) payload of \(payload.count) bytes for \(count) elements")
        }
        switch dtype {
        case .f32, .bf16, .f16:
            HalfPrecision.decode(payload.baseAddress!, as: dtype, to: output, count: count)
        case .int8:
            let scale = payload.loadUnaligned(as: Float.self)
            for i in 0..<count {
                output[i] = Float(Int8(bitPattern: payload[4 + i])) * scale
            }
        case .topK:
            output.update(repeating: 0, count: count)
            for pair in 0..<(payload.count / 8) {
                let index = Int(UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: pair * 8, as: UInt32.self)))
                guard index < count else {
                    throw SwiftPSError(.invalidArgument, "top-k index \(index) outside a tensor of \(count) elements")
                }
                output[index] += payload.loadUnaligned(fromByteOffset: pair * 8 + 4, as: Float.self)
            }
        }
    }

    private static func encodeInt8(residual: UnsafeMutablePointer<Float>, count: Int, payload: UnsafeMutableRawPointer) {
        var largest: Float = 0
        for i in 0..<count { largest = max(largest, abs(residual[i])) }
        let scale = largest / 127, inverse = scale > 0 ? 1 / scale : 0
        payload.storeBytes(of: scale, as: Float.self)
        let bytes = (payload + 4).assumingMemoryBound(to: Int8.self)
        for i in 0..<count {
            let q = Int8(max(-127, min(127, (residual[i] * inverse).rounded())))
            bytes[i] = q
            residual[i] -= Float(q) * scale
        }
    }

    private static func encodeTopK(residual: UnsafeMutablePointer<Float>, count: Int, k: Int,
                                   payload: UnsafeMutableRawPointer, scratch: UnsafeMutablePointer<Float>) {
        for i in 0..<count { scratch[i] = abs(residual[i]) }
        let threshold = select(scratch, count: count, rank: count - k)  // the k-th largest magnitude
        var larger = 0
        for i in 0..<count where abs(residual[i]) > threshold { larger += 1 }
        // Everything above the threshold, then ties at it until there are exactly k pairs, in index order.
        var ties = k - larger, written = 0
        for i in 0..<count {
            let magnitude = abs(residual[i])
            guard magnitude > threshold || (magnitude == threshold && ties > 0) else { continue }
            if magnitude == threshold { ties -= 1 }
            payload.storeBytes(of: UInt32(i).littleEndian, toByteOffset: written * 8, as: UInt32.self)
            payload.storeBytes(of: residual[i], toByteOffset: written * 8 + 4, as: Float.self)
            residual[i] = 0
            written += 1
        }
    }

    /// The value of rank `rank` (0 = smallest) among `count` values, reordering them (quickselect).
    static func select(_ values: UnsafeMutablePointer<Float>, count: Int, rank: Int) -> Float {
        var low = 0, high = count - 1
        while low < high {
            let pivot = values[(low + high) / 2]
            var i = low, j = high
            while i <= j {
                while values[i] < pivot { i += 1 }
                while values[j] > pivot { j -= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if rank <= j { high = j } else if rank >= i { low = i } else { return values[rank] }
        }
        return values[rank]
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    fileprivate func swapAt(_ a: Int, _ b: Int) {
        let t = self[a]
        self[a] = self[b]
        self[b] = t
    }
}
