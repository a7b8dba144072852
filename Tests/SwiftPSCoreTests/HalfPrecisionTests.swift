import Testing
import SwiftPSCore

/// One scalar conversion with the exact 16-bit pattern IEEE rounding (nearest, ties to even) requires.
struct HalfPrecisionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var input: Float
    var expected: UInt16

    init(_ name: String, _ input: Float, _ expected: UInt16) {
        self.name = name
        self.input = input
        self.expected = expected
    }

    init(_ name: String, bits: UInt32, _ expected: UInt16) {
        self.init(name, Float(bitPattern: bits), expected)
    }

    var testDescription: String { name }
}

/// The 16-bit pattern of the value of a binary format nearest to `x`, ties to even, worked out in Double arithmetic
/// from the format's parameters alone (independently of the bit tricks under test).
///
/// - Parameters:
///   - mantissaBits: stored mantissa bits (f16: 10, bf16: 7).
///   - minExponent: exponent of the smallest normal (f16: −14, bf16: −126); below it the format is subnormal.
///   - infinity: the +Inf pattern; everything that rounds to it or beyond overflows to it.
private func referenceEncode(_ x: Float, mantissaBits: Int, minExponent: Int, infinity: UInt16) -> UInt16 {
    precondition(!x.isNaN)
    let sign: UInt16 = x.sign == .minus ? 0x8000 : 0
    let magnitude = Double(x).magnitude
    if magnitude.isInfinite { return sign | infinity }
    if magnitude == 0 { return sign }
    // Spacing of the format's values around x: one ulp of x's binade, or of the subnormal range.
    let exponent = max(Int(magnitude.exponent), minExponent)
    let ulp = Double(sign: .plus, exponent: exponent - mantissaBits, significand: 1)
    let ulps = magnitude / ulp  // exact: a power-of-two scaling of a 24-bit value
    let below = ulps.rounded(.down), above = below + 1
    let nearest: Double
    if ulps - below < above - ulps {
        nearest = below
    } else if ulps - below > above - ulps {
        nearest = above
    } else {
        nearest = below.truncatingRemainder(dividingBy: 2) == 0 ? below : above
    }
    // Normal binades start at 2^mantissaBits ulps, so this sum also carries a rounding into the next exponent.
    let bits = (exponent - minExponent) << mantissaBits + Int(nearest)
    return sign | UInt16(min(bits, Int(infinity)))
}

private func referenceF16(_ x: Float) -> UInt16 { referenceEncode(x, mantissaBits: 10, minExponent: -14, infinity: 0x7C00) }
private func referenceBF16(_ x: Float) -> UInt16 { referenceEncode(x, mantissaBits: 7, minExponent: -126, infinity: 0x7F80) }

/// The value of an IEEE binary16 pattern, from the standard's definition.
private func referenceValue(f16 bits: UInt16) -> Double {
    let exponent = Int(bits >> 10) & 0x1F, mantissa = Double(bits & 0x03FF)
    let magnitude: Double
    switch exponent {
    case 0: magnitude = mantissa * 0x1p-24
    case 31: magnitude = mantissa == 0 ? .infinity : .nan
    default: magnitude = (1024 + mantissa) * Double(sign: .plus, exponent: exponent - 25, significand: 1)
    }
    return bits & 0x8000 == 0 ? magnitude : -magnitude
}

/// fp32 bit patterns from a seeded generator: half uniform over all patterns, half with exponents near the f16
/// range (2⁻²⁷ … 2¹⁷) so that f16 subnormals, rounding and overflow are all well sampled.
private func randomFloatBits(count: Int, seed: UInt64) -> [UInt32] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { index in
        let random = generator.next()
        let bits = UInt32(truncatingIfNeeded: random)
        guard index % 2 == 1 else { return bits }
        let exponent = 100 + UInt32((random >> 32) % 45)
        return bits & 0x807F_FFFF | exponent << 23
    }
}

private func hexString(_ value: some BinaryInteger) -> String { "0x" + String(value, radix: 16) }

@Suite struct HalfPrecisionTests {
    // MARK: bf16

    static let bf16Cases: [HalfPrecisionCase] = [
        HalfPrecisionCase("+0", 0, 0x0000),
        HalfPrecisionCase("-0", -0.0, 0x8000),
        HalfPrecisionCase("+Inf", .infinity, 0x7F80),
        HalfPrecisionCase("-Inf", -.infinity, 0xFF80),
        HalfPrecisionCase("1", 1, 0x3F80),
        HalfPrecisionCase("-2", -2, 0xC000),
        HalfPrecisionCase("tie below even 1 stays", bits: 0x3F80_8000, 0x3F80),
        HalfPrecisionCase("tie above odd 0x3F81 goes up", bits: 0x3F81_8000, 0x3F82),
        HalfPrecisionCase("just over tie rounds up", bits: 0x3F80_8001, 0x3F81),
        HalfPrecisionCase("just under tie rounds down", bits: 0x3F81_7FFF, 0x3F81),
        HalfPrecisionCase("negative tie to even", bits: 0xBF81_8000, 0xBF82),
        HalfPrecisionCase("largest finite", bits: 0x7F7F_0000, 0x7F7F),
        HalfPrecisionCase("just under overflow tie", bits: 0x7F7F_7FFF, 0x7F7F),
        HalfPrecisionCase("overflow tie to even is Inf", bits: 0x7F7F_8000, 0x7F80),
        HalfPrecisionCase("fp32 max overflows", .greatestFiniteMagnitude, 0x7F80),
        HalfPrecisionCase("-fp32 max overflows", -.greatestFiniteMagnitude, 0xFF80),
        HalfPrecisionCase("smallest normal", .leastNormalMagnitude, 0x0080),
        HalfPrecisionCase("largest fp32 subnormal rounds to smallest normal", bits: 0x007F_FFFF, 0x0080),
        HalfPrecisionCase("smallest bf16 subnormal", bits: 0x0001_0000, 0x0001),
        HalfPrecisionCase("subnormal tie to even 0", bits: 0x0000_8000, 0x0000),
        HalfPrecisionCase("subnormal tie to even 2", bits: 0x0001_8000, 0x0002),
        HalfPrecisionCase("subnormal just over tie", bits: 0x0000_8001, 0x0001),
        HalfPrecisionCase("fp32 least subnormal to +0", .leastNonzeroMagnitude, 0x0000),
        HalfPrecisionCase("-fp32 least subnormal to -0", -.leastNonzeroMagnitude, 0x8000),
    ]

    @Test(arguments: bf16Cases)
    func bf16Edges(_ c: HalfPrecisionCase) {
        #expect(hexString(HalfPrecision.bf16(c.input)) == hexString(c.expected))
        #expect(hexString(referenceBF16(c.input)) == hexString(c.expected), "the reference agrees with the table")
    }

    @Test(arguments: [
        (UInt32(0x7FC0_0000), UInt16(0x7FC0)),  // default quiet NaN
        (0xFFC0_0000, 0xFFC0),  // negative quiet NaN
        (0x7F80_0001, 0x7FC0),  // signalling NaN whose payload truncation would lose: quieted, not Inf
        (0xFF80_0001, 0xFFC0),
        (0x7FFF_FFFF, 0x7FFF),  // all-ones payload: no rounding carry into the sign
        (0xFFFF_FFFF, 0xFFFF),
        (0x7FA0_1234, 0x7FE0),  // signalling NaN keeps its top payload bits and gets the quiet bit
    ])
    func bf16NaN(bits: UInt32, expected: UInt16) {
        let encoded = HalfPrecision.bf16(Float(bitPattern: bits))
        #expect(hexString(encoded) == hexString(expected))
        let decoded = HalfPrecision.float(bf16: encoded)
        #expect(decoded.isNaN)
        #expect(decoded.sign == Float(bitPattern: bits).sign)
    }

    @Test func bf16DecodeIsTheUpperHalf() {
        for bits in 0...UInt32(0xFFFF) {
            let decoded = HalfPrecision.float(bf16: UInt16(bits))
            guard decoded.bitPattern == bits << 16 else {
                Issue.record("bf16 \(hexString(bits)) decoded to \(hexString(decoded.bitPattern))")
                return
            }
        }
    }

    // MARK: f16

    static let f16Cases: [HalfPrecisionCase] = [
        HalfPrecisionCase("+0", 0, 0x0000),
        HalfPrecisionCase("-0", -0.0, 0x8000),
        HalfPrecisionCase("+Inf", .infinity, 0x7C00),
        HalfPrecisionCase("-Inf", -.infinity, 0xFC00),
        HalfPrecisionCase("1", 1, 0x3C00),
        HalfPrecisionCase("-2", -2, 0xC000),
        HalfPrecisionCase("0.1", 0.1, 0x2E66),
        HalfPrecisionCase("tie 1 + 2^-11 to even 1", 0x1.002p0, 0x3C00),
        HalfPrecisionCase("tie 1 + 3·2^-11 to even 0x3C02", 0x1.006p0, 0x3C02),
        HalfPrecisionCase("just over the even tie", Float(0x1.002p0).nextUp, 0x3C01),
        HalfPrecisionCase("just under the odd tie", Float(0x1.006p0).nextDown, 0x3C01),
        HalfPrecisionCase("tie 2049 to even 2048", 2049, 0x6800),
        HalfPrecisionCase("tie 2051 to even 2052", 2051, 0x6802),
        HalfPrecisionCase("negative tie to even", -2051, 0xE802),
        HalfPrecisionCase("largest finite", 65504, 0x7BFF),
        HalfPrecisionCase("-largest finite", -65504, 0xFBFF),
        HalfPrecisionCase("just under the overflow tie", Float(65520).nextDown, 0x7BFF),
        HalfPrecisionCase("overflow tie 65520 to even is Inf", 65520, 0x7C00),
        HalfPrecisionCase("-65520 is -Inf", -65520, 0xFC00),
        HalfPrecisionCase("2^16 overflows", 65536, 0x7C00),
        HalfPrecisionCase("1e10 overflows", 1e10, 0x7C00),
        HalfPrecisionCase("fp32 max overflows", .greatestFiniteMagnitude, 0x7C00),
        HalfPrecisionCase("smallest normal 2^-14", 0x1p-14, 0x0400),
        HalfPrecisionCase("just under 2^-14 rounds up to it", Float(0x1p-14).nextDown, 0x0400),
        HalfPrecisionCase("tie between largest subnormal and 2^-14 to even", 0x1p-14 - 0x1p-25, 0x0400),
        HalfPrecisionCase("largest subnormal", 1023 * 0x1p-24, 0x03FF),
        HalfPrecisionCase("tie between 0x3FE and 0x3FF to even", 0x1p-14 - 3 * 0x1p-25, 0x03FE),
        HalfPrecisionCase("smallest subnormal 2^-24", 0x1p-24, 0x0001),
        HalfPrecisionCase("-2^-24", -0x1p-24, 0x8001),
        HalfPrecisionCase("just under 2^-24", Float(0x1p-24).nextDown, 0x0001),
        HalfPrecisionCase("just over 2^-24", Float(0x1p-24).nextUp, 0x0001),
        HalfPrecisionCase("tie 2^-25 to even 0", 0x1p-25, 0x0000),
        HalfPrecisionCase("tie -2^-25 to even -0", -0x1p-25, 0x8000),
        HalfPrecisionCase("just over 2^-25 rounds up", Float(0x1p-25).nextUp, 0x0001),
        HalfPrecisionCase("tie 3·2^-25 to even 2", 3 * 0x1p-25, 0x0002),
        HalfPrecisionCase("tie 5·2^-25 to even 2", 5 * 0x1p-25, 0x0002),
        HalfPrecisionCase("2^-26 to 0", 0x1p-26, 0x0000),
        HalfPrecisionCase("fp32 smallest normal to 0", .leastNormalMagnitude, 0x0000),
        HalfPrecisionCase("fp32 least subnormal to -0", -.leastNonzeroMagnitude, 0x8000),
    ]

    @Test(arguments: f16Cases)
    func f16Edges(_ c: HalfPrecisionCase) {
        #expect(hexString(HalfPrecision.f16(c.input)) == hexString(c.expected))
        #expect(hexString(referenceF16(c.input)) == hexString(c.expected), "the reference agrees with the table")
    }

    @Test(arguments: [Float.nan, -Float.nan, .signalingNaN, -Float.signalingNaN, Float(bitPattern: 0x7F80_0001),
                      Float(bitPattern: 0xFFFF_FFFF)])
    func f16NaN(_ value: Float) {
        let encoded = HalfPrecision.f16(value)
        let expected: UInt16 = value.sign == .minus ? 0xFE00 : 0x7E00
        #expect(hexString(encoded) == hexString(expected), "quiet NaN with the input's sign")
        let decoded = HalfPrecision.float(f16: encoded)
        #expect(decoded.isNaN)
        #expect(decoded.sign == value.sign)
    }

    @Test func f16DecodeMatchesTheDefinition() {
        for bits in 0...UInt16.max {
            let decoded = HalfPrecision.float(f16: bits), expected = referenceValue(f16: bits)
            let same = expected.isNaN
                ? decoded.isNaN && (decoded.sign == .minus) == (bits & 0x8000 != 0)
                : decoded.bitPattern == Float(expected).bitPattern
            guard same else {
                Issue.record("f16 \(hexString(bits)) decoded to \(decoded), expected \(expected)")
                return
            }
        }
    }

    // MARK: both formats

    /// 16-bit → fp32 → 16-bit is the identity on every pattern that is not NaN; NaNs stay NaN with their sign.
    @Test(arguments: [DType.bf16, .f16])
    func exhaustiveRoundTrip(_ dtype: DType) {
        var failureCount = 0, examples: [String] = []
        func fail(_ message: String) {
            failureCount += 1
            if examples.count < 5 { examples.append(message) }
        }
        for bits in 0...UInt16.max {
            let value = dtype == .bf16 ? HalfPrecision.float(bf16: bits) : HalfPrecision.float(f16: bits)
            let back = dtype == .bf16 ? HalfPrecision.bf16(value) : HalfPrecision.f16(value)
            let isNaN16 = dtype == .bf16 ? bits & 0x7FFF > 0x7F80 : bits & 0x7FFF > 0x7C00
            if isNaN16 {
                let backIsNaN = dtype == .bf16 ? back & 0x7FFF > 0x7F80 : back & 0x7FFF > 0x7C00
                if !value.isNaN || !backIsNaN || back & 0x8000 != bits & 0x8000 {
                    fail("NaN \(hexString(bits)) → \(hexString(back))")
                }
            } else if back != bits {
                fail("\(hexString(bits)) → \(value) → \(hexString(back))")
            }
        }
        #expect(failureCount == 0, "first failures: \(examples)")
    }

    /// A million seeded fp32 values against the Double reference, through the scalar and the bulk (unaligned) forms.
    @Test(arguments: [DType.bf16, .f16])
    func randomValuesMatchTheReference(_ dtype: DType) {
        let count = 1_000_000
        let inputs = randomFloatBits(count: count, seed: dtype == .bf16 ? 0xBF16 : 0xF16).map(Float.init(bitPattern:))
        let wire = UnsafeMutableRawPointer.allocate(byteCount: 2 * count + 1, alignment: 16)
        defer { wire.deallocate() }
        inputs.withUnsafeBufferPointer { HalfPrecision.encode($0.baseAddress!, to: wire + 1, count: count, as: dtype) }
        var failures: [String] = []
        for (index, value) in inputs.enumerated() {
            let scalar = dtype == .bf16 ? HalfPrecision.bf16(value) : HalfPrecision.f16(value)
            let bulk = UInt16(littleEndian: wire.loadUnaligned(fromByteOffset: 1 + 2 * index, as: UInt16.self))
            if bulk != scalar { failures.append("bulk \(hexString(bulk)) ≠ scalar \(hexString(scalar)) for \(hexString(value.bitPattern))") }
            if value.isNaN {
                let quiet: UInt16 = dtype == .bf16 ? 0x7FC0 : 0x7E00
                if scalar & quiet != quiet || (scalar & 0x8000 == 0) != (value.sign == .plus) {
                    failures.append("NaN \(hexString(value.bitPattern)) → \(hexString(scalar))")
                }
            } else {
                let expected = dtype == .bf16 ? referenceBF16(value) : referenceF16(value)
                if scalar != expected { failures.append("\(hexString(value.bitPattern)) → \(hexString(scalar)), expected \(hexString(expected))") }
            }
            if failures.count >= 5 { break }
        }
        #expect(failures.isEmpty)
    }

    // MARK: bulk forms

    /// Specials and seeded values, an odd count so that the vector loops' tails run too.
    static let bulkInputs: [Float] = [0, -0.0, .infinity, -.infinity, .nan, -.nan, .signalingNaN, 65504, 65520, 1e-8,
                                      0x1p-24, 0x1p-25, 0x1.002p0, .greatestFiniteMagnitude, .leastNonzeroMagnitude]
        + randomFloatBits(count: 1_012, seed: 7).map(Float.init(bitPattern:))

    @Test(arguments: [DType.f32, .bf16, .f16], [0, 1])
    func bulkEqualsScalar(_ dtype: DType, misalign: Int) {
        let inputs = Self.bulkInputs, count = inputs.count, width = dtype.byteWidth, guardBytes = 16
        let total = misalign + count * width + guardBytes
        let wire = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 16)
        defer { wire.deallocate() }
        wire.initializeMemory(as: UInt8.self, repeating: 0xA5, count: total)

        inputs.withUnsafeBufferPointer {
            HalfPrecision.encode($0.baseAddress!, to: wire + misalign, count: count, as: dtype)
        }
        let bytes = UnsafeRawBufferPointer(start: wire, count: total)
        #expect(bytes.prefix(misalign).allSatisfy { $0 == 0xA5 }, "nothing written before the destination")
        #expect(bytes.suffix(guardBytes).allSatisfy { $0 == 0xA5 }, "nothing written past count elements")
        for (index, value) in inputs.enumerated() {
            let offset = misalign + index * width
            switch dtype {
            case .f32:
                let copied = UInt32(littleEndian: wire.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
                #expect(copied == value.bitPattern)
            case .bf16, .f16:
                let encoded = UInt16(littleEndian: wire.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
                let scalar = dtype == .bf16 ? HalfPrecision.bf16(value) : HalfPrecision.f16(value)
                #expect(hexString(encoded) == hexString(scalar), "element \(index)")
            case .int8, .topK:
                Issue.record("not a dense dtype")
            }
        }

        var decoded = [Float](repeating: 0, count: count + 1)
        decoded.withUnsafeMutableBufferPointer {
            HalfPrecision.decode(wire + misalign, as: dtype, to: $0.baseAddress!, count: count)
        }
        #expect(decoded[count] == 0, "nothing written past count floats")
        for index in 0..<count {
            let offset = misalign + index * width
            let expected: Float
            switch dtype {
            case .f32: expected = inputs[index]
            case .bf16: expected = HalfPrecision.float(bf16: wire.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            case .f16: expected = HalfPrecision.float(f16: wire.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            case .int8, .topK: expected = .nan
            }
            #expect(hexString(decoded[index].bitPattern) == hexString(expected.bitPattern), "element \(index)")
        }
    }

    /// Every 16-bit pattern, decoded in bulk from an odd address, equals the scalar decode.
    @Test(arguments: [DType.bf16, .f16])
    func bulkDecodeOfEveryPattern(_ dtype: DType) {
        let count = 65_536
        let wire = UnsafeMutableRawPointer.allocate(byteCount: 2 * count + 1, alignment: 16)
        defer { wire.deallocate() }
        for bits in 0..<count {
            wire.storeBytes(of: UInt16(bits).littleEndian, toByteOffset: 1 + 2 * bits, as: UInt16.self)
        }
        var decoded = [Float](repeating: 0, count: count)
        decoded.withUnsafeMutableBufferPointer { HalfPrecision.decode(wire + 1, as: dtype, to: $0.baseAddress!, count: count) }
        let mismatches = (0..<count).filter { bits in
            let scalar = dtype == .bf16 ? HalfPrecision.float(bf16: UInt16(bits)) : HalfPrecision.float(f16: UInt16(bits))
            return decoded[bits].bitPattern != scalar.bitPattern
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5).map { hexString($0) })")
    }

    /// Wire values are little-endian whatever the host.
    @Test func wireByteOrder() {
        var out = [UInt8](repeating: 0, count: 2)
        let one: [Float] = [1]
        out.withUnsafeMutableBytes { HalfPrecision.encode(one, to: $0.baseAddress!, count: 1, as: .bf16) }
        #expect(out == [0x80, 0x3F])
        out.withUnsafeMutableBytes { HalfPrecision.encode(one, to: $0.baseAddress!, count: 1, as: .f16) }
        #expect(out == [0x00, 0x3C])
        var back: Float = 0
        [UInt8(0x00), 0x3C].withUnsafeBytes { HalfPrecision.decode($0.baseAddress!, as: .f16, to: &back, count: 1) }
        #expect(back == 1)
    }

    @Test(arguments: [DType.f32, .bf16, .f16])
    func zeroCountTouchesNothing(_ dtype: DType) {
        var bytes = [UInt8](repeating: 0xA5, count: 8)
        var floats: [Float] = [42]
        bytes.withUnsafeMutableBytes { raw in
            floats.withUnsafeMutableBufferPointer { buffer in
                HalfPrecision.encode(buffer.baseAddress!, to: raw.baseAddress!, count: 0, as: dtype)
                HalfPrecision.decode(raw.baseAddress!, as: dtype, to: buffer.baseAddress!, count: 0)
            }
        }
        #expect(bytes.allSatisfy { $0 == 0xA5 })
        #expect(floats == [42])
    }
}
