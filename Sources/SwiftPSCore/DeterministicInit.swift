/// Initial values as a pure function of (seed, tensor index, element index), by the tensor's initializer.
///
/// Because each element depends on nothing else, every server computes exactly the values of its own chunks and the
/// initial model is bit-identical whatever the number of servers or the chunk size.
public enum DeterministicInit {
    /// Fills `out` with elements `offset ..< offset + out.count` of tensor `param`. A pushed tensor starts at zero
    /// until a client assigns it.
    public static func fill(_ out: UnsafeMutableBufferPointer<Float>, seed: UInt64, param: Int, spec: TensorSpec,
                            offset: Int) {
        let stream = SplitMix64.mix(seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(param + 1))
        switch spec.initializer {
        case .zeros, .pushed: out.update(repeating: 0)
        case .ones: out.update(repeating: 1)
        case .constant(let value): out.update(repeating: value)
        case .normal(let std): normal(out, stream: stream, offset: offset, std: Double(std))
        case .heNormal: normal(out, stream: stream, offset: offset, std: (2.0 / Double(spec.fans.fanIn)).squareRoot())
        case .uniform(let low, let high):
            uniform(out, stream: stream, offset: offset, low: Double(low), high: Double(high))
        case .xavierUniform:
            let (fanIn, fanOut) = spec.fans
            let bound = (6.0 / Double(fanIn + fanOut)).squareRoot()
            uniform(out, stream: stream, offset: offset, low: -bound, high: bound)
        }
    }

    private static func normal(_ out: UnsafeMutableBufferPointer<Float>, stream: UInt64, offset: Int, std: Double) {
        for i in 0..<out.count {
            out[i] = Float(std * SplitMix64.normal(stream: stream, index: UInt64(offset + i)))
        }
    }

    private static func uniform(_ out: UnsafeMutableBufferPointer<Float>, stream: UInt64, offset: Int, low: Double,
                                high: Double) {
        for i in 0..<out.count {
            let bits = SplitMix64.mix(stream ^ SplitMix64.mix(UInt64(offset + i)))
            out[i] = Float(low + (high - low) * SplitMix64.unit(bits))
        }
    }
}

/// SplitMix64: a tiny, fast, well-mixed generator; also usable counter-style (hash of stream and index).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The SplitMix64 finaliser: a bijective mix of 64 bits.
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in (0, 1), from the top 53 bits.
    @inline(__always)
    public static func unit(_ bits: UInt64) -> Double { (Double(bits >> 11) + 0.5) * 0x1.0p-53 }

    /// A standard normal sample for element `index` of `stream` (Box–Muller on two hashed uniforms).
    public static func normal(stream: UInt64, index: UInt64) -> Double {
        let a = mix(stream ^ mix(index &* 2 &+ 1)), b = mix(stream ^ mix(index &* 2 &+ 2))
        let radius = (-2.0 * log(unit(a))).squareRoot()
        return radius * cos(2.0 * Double.pi * unit(b))
    }

    /// The next standard normal sample of this generator.
    public mutating func nextNormal() -> Double {
        let radius = (-2.0 * log(SplitMix64.unit(next()))).squareRoot()
        return radius * cos(2.0 * Double.pi * SplitMix64.unit(next()))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
