internal import CKernels

/// Conversions between fp32 and the 16-bit wire dtypes, round to nearest even, at memory speed.
///
/// Servers keep fp32 masters and convert tensors as they arrive and leave, so the bulk forms sit on the hot path of
/// every push and pull. They are branch-free integer arithmetic plus a few float operations (whose rounding does
/// the f16 rounding), which the compiler vectorises with the baseline x86-64 SSE2 instruction set. `Float16` is
/// avoided because without F16C (not in the baseline) each conversion is a libcall.
///
/// Wire values are little-endian, like the `.f32` payloads that are copied verbatim. The float steps rely on the
/// default floating-point environment (round to nearest even; no flush-to-zero), which Swift never changes.
public enum HalfPrecision {
    /// fp32 → bf16 (upper 16 bits, round to nearest even; NaN stays a quiet NaN with its sign; ±Inf exact; overflow rounds to ±Inf as IEEE says).
    @inlinable
    public static func bf16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let isNaN = bits & 0x7FFF_FFFF > 0x7F80_0000
        // Adding 0x7FFF plus the lowest kept bit rounds the dropped half to nearest, ties to even; a carry out of the
        // mantissa bumps the exponent, so the largest finite values round up to ±Inf. A NaN is truncated instead
        // (rounding could carry it into Inf or the sign) and gets the quiet bit, which truncation alone could lose.
        let bias: UInt32 = isNaN ? 0 : 0x7FFF &+ ((bits >> 16) & 1)
        let quieted = isNaN ? bits | 0x0040_0000 : bits
        return UInt16(truncatingIfNeeded: (quieted &+ bias) >> 16)
    }

    @inlinable
    public static func float(bf16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// fp32 → IEEE binary16 (round to nearest even, subnormals, overflow → ±Inf, NaN → quiet NaN keeping the sign).
    ///
    /// NaN becomes the canonical quiet NaN `0x7E00` with the input's sign; the payload is not kept.
    @inlinable
    public static func f16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let absBits = bits & 0x7FFF_FFFF
        let magnitude = Float(bitPattern: absBits)
        // 2¹⁶ and up (and NaN, fixed below) become 2¹⁶, which the steps below turn into Inf.
        let clamped = magnitude < 0x1p16 ? magnitude : 0x1p16
        // Let the FPU round: add 2ᵉ⁺¹³, where 2ᵉ is the binade of the result (at least 2⁻¹⁴, f16's subnormal binade),
        // so that the last fp32 mantissa bit of the sum weighs 2ᵉ⁻¹⁰, one f16 ulp. The sum's mantissa field is then
        // 2¹⁰ + the rounded f16 mantissa (or just the mantissa for subnormals), and reaches 2¹¹ when rounding
        // carries into the next binade.
        let binade = Float(bitPattern: clamped.bitPattern & 0x7F80_0000)
        let floor = binade < 0x1p-14 ? 0x1p-14 : binade
        let sum = (Float(bitPattern: floor.bitPattern &+ 0x0680_0000) + clamped).bitPattern
        // The sum's exponent field, rebiased from e + 13 + 127 to f16's e + 15 (its mantissa bits 12–22 are zero, so
        // the shift brings nothing else along), plus its mantissa field; a carry of 2¹¹ lands in the exponent.
        let nonsign = (sum >> 13) &+ (sum & 0x0FFF) &- 0x1_F800
        // NaN came out as Inf (0x7C00); the quiet bit makes it 0x7E00.
        let quiet: UInt32 = absBits > 0x7F80_0000 ? 0x0200_0000 : 0
        // Assembled in the upper half and shifted down, a form the vectoriser packs to 16 bits in one instruction.
        return UInt16(truncatingIfNeeded: (bits & 0x8000_0000 | nonsign << 16 | quiet) >> 16)
    }

    @inlinable
    public static func float(f16 bits: UInt16) -> Float {
        let word = UInt32(bits) << 16
        let sign = word & 0x8000_0000
        // Exponent and mantissa moved into fp32's fields still carry f16's bias; multiplying by 2¹¹² rebiases them,
        // exactly, and also normalises f16 subnormals (which land in fp32's subnormal range here).
        let scaled = Float(bitPattern: (word & 0x7FFF_0000) >> 3) * 0x1p112
        // Exponent 31 (Inf, NaN) came out as 2¹⁶ or more: set all fp32 exponent bits, keeping the payload; a NaN
        // also gets the quiet bit, as IEEE conversions (and F16C) deliver it.
        let infinite: UInt32 = scaled >= 0x1p16 ? 0x7F80_0000 : 0
        let quiet: UInt32 = word & 0x7FFF_0000 > 0x7C00_0000 ? 0x0040_0000 : 0
        return Float(bitPattern: sign | infinite | quiet | scaled.bitPattern)
    }

    /// Converts `count` floats to `dtype` wire values; for `.f32` this is a plain copy.
    ///
    /// Allocates nothing. `destination` may have any alignment (it is often a position inside a network frame);
    /// it must hold `count * dtype.byteWidth` bytes and must not overlap `source`.
    public static func encode(_ source: UnsafePointer<Float>, to destination: UnsafeMutableRawPointer, count: Int,
                              as dtype: DType) {
        precondition(count >= 0, "HalfPrecision.encode: negative count \(count)")
        switch dtype {
        case .f32:
            destination.copyMemory(from: source, byteCount: count * MemoryLayout<Float>.size)
        case .bf16:
            for i in 0..<count {
                destination.storeBytes(of: bf16(source[i]).littleEndian, toByteOffset: 2 &* i, as: UInt16.self)
            }
        case .f16:
            // F16C where the CPU has it (the same results); the scalar form for the rest.
            for i in swiftps_f16_encode_fast(source, destination, count)..<count {
                destination.storeBytes(of: f16(source[i]).littleEndian, toByteOffset: 2 &* i, as: UInt16.self)
            }
        case .int8, .topK:
            preconditionFailure("HalfPrecision converts the dense dtypes; \(dtype) is GradientCodec's")
        }
    }

    /// Converts `count` `dtype` wire values to floats; for `.f32` this is a plain copy.
    ///
    /// Allocates nothing. `source` may have any alignment (bytes straight from a network frame); it must hold
    /// `count * dtype.byteWidth` bytes and must not overlap `destination`. NaNs stay NaNs with their sign and
    /// payload; f16 NaNs come out quiet.
    public static func decode(_ source: UnsafeRawPointer, as dtype: DType, to destination: UnsafeMutablePointer<Float>,
                              count: Int) {
        precondition(count >= 0, "HalfPrecision.decode: negative count \(count)")
        switch dtype {
        case .f32:
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * MemoryLayout<Float>.size)
        case .bf16:
            for i in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self))
                destination[i] = float(bf16: bits)
            }
        case .f16:
            for i in swiftps_f16_decode_fast(source, destination, count)..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self))
                destination[i] = float(f16: bits)
            }
        case .int8, .topK:
            preconditionFailure("HalfPrecision converts the dense dtypes; \(dtype) is GradientCodec's")
        }
    }
}
