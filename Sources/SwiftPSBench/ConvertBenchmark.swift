import SwiftPSCore

/// `swiftps bench convert`: `HalfPrecision` conversions between fp32 and the 16-bit wire dtypes, in fp32 bytes
/// per second, next to `memcpy` of the same fp32 bytes measured in the same run.
///
/// A server decodes every 16-bit push and encodes every 16-bit pull, so these loops should run near memory speed.
/// A round trip makes two passes (f32 → 16-bit → f32, 12 bytes of traffic per element against memcpy's 8), so
/// at memory speed its ratio is about 0.67; one-way figures are shown too (6 bytes per element).
public enum ConvertBenchmark {
    static let bytes = 16 << 20

    public static func run(secondsPerRound seconds: Double, json: Bool) {
        let report = Report(json: json)
        report.note("convert benchmark: HalfPrecision on \(bytes >> 20) MiB of fp32, fp32 bytes per second, "
                    + "median of \(Measure.rounds) rounds of \(seconds) s; baseline: memcpy of the same fp32 bytes")
        let count = bytes / 4
        // Gradient-like values, N(0, 1e-3²): most are normal 16-bit numbers, some f16 subnormals, as on the wire.
        let source = FloatBuffer(count: count)
        let gradientLike = TensorSpec(name: "g", shape: [count], initializer: .heNormal, fanIn: 2_000_000)  // He scale √(2/fanIn) = 1e-3
        DeterministicInit.fill(source.buffer, seed: 1, param: 0, spec: gradientLike, offset: 0)
        let wire = ByteBuffer(count: count * 2)
        let back = FloatBuffer(count: count)
        let copy = ByteBuffer(count: 2 * bytes)
        let wireBase = UnsafeMutableRawPointer(wire.bytes.baseAddress!)

        for dtype in [DType.bf16, .f16] {
            let encode = { HalfPrecision.encode(source.pointer, to: wireBase, count: count, as: dtype) }
            let decode = { HalfPrecision.decode(wireBase, as: dtype, to: back.pointer, count: count) }
            for (pass, body) in [("roundtrip", { encode(); decode() }), ("encode", encode), ("decode", decode)] {
                let (converts, copies) = Measure.medians({ Measure.rate(seconds: seconds, body) },
                                                         { Measure.memcpyRate(copy.bytes, seconds: seconds) })
                report.figure("convert_\(dtype)_\(pass)_\(bytes >> 20)MiB", converts * Double(bytes) / 1e9, "GB/s",
                              copies * Double(bytes) / 1e9)
            }
        }
    }
}
