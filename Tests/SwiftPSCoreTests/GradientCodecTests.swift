import Testing
import SwiftPSCore

/// Compression with error feedback: what is sent plus what stays in the residual is what there was.
@Suite struct GradientCodecTests {
    static func gradient(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(rng.nextNormal()) }
    }

    /// Encodes `values` (as the residual), decodes the payload; returns (decoded, residual left, payload bytes).
    static func roundTrip(_ compression: Compression, _ values: [Float]) throws -> ([Float], [Float], Int) {
        var residual = values
        var payload = [UInt8](repeating: 0, count: GradientCodec.payloadBytes(compression, count: values.count))
        var scratch = [Float](repeating: 0, count: values.count)
        residual.withUnsafeMutableBufferPointer { r in
            payload.withUnsafeMutableBytes { p in
                scratch.withUnsafeMutableBufferPointer { s in
                    GradientCodec.encode(compression, residual: r.baseAddress!, count: values.count,
                                         payload: p.baseAddress!, scratch: s.baseAddress!)
                }
            }
        }
        var decoded = [Float](repeating: .nan, count: values.count)
        try payload.withUnsafeBytes { p in
            try decoded.withUnsafeMutableBufferPointer { d in
                try GradientCodec.decode(compression.dtype ?? .f32, payload: p, count: values.count, into: d.baseAddress!)
            }
        }
        return (decoded, residual, payload.count)
    }

    @Test(arguments: [Compression.topK(fraction: 0.1), .topK(fraction: 0.5), .topK(fraction: 1), .int8])
    func sentPlusResidualIsTheGradient(compression: Compression) throws {
        let values = Self.gradient(1003, seed: 7)
        let (sent, residual, _) = try Self.roundTrip(compression, values)
        for i in values.indices {
            #expect(abs(sent[i] + residual[i] - values[i]) <= 1e-6 * max(1, abs(values[i])), "element \(i)")
        }
    }

    @Test func topKSendsExactlyTheLargestMagnitudes() throws {
        let values = Self.gradient(1000, seed: 3)
        let (sent, residual, bytes) = try Self.roundTrip(.topK(fraction: 0.05), values)
        #expect(bytes == 50 * 8)
        let kept = sent.indices.filter { sent[$0] != 0 }
        #expect(kept.count == 50)
        let smallestSent = kept.map { abs(values[$0]) }.min()!
        let largestLeft = residual.map(abs).max()!
        #expect(smallestSent >= largestLeft)
        for i in kept { #expect(sent[i] == values[i] && residual[i] == 0) }  // values travel exactly
    }

    @Test func topKBreaksTiesToExactlyK() throws {
        let (sent, residual, bytes) = try Self.roundTrip(.topK(fraction: 0.3), [Float](repeating: 2, count: 10))
        #expect(bytes == 3 * 8)
        #expect(sent.filter { $0 == 2 }.count == 3 && residual.filter { $0 == 2 }.count == 7)
    }

    @Test func int8ErrorIsWithinHalfAStep() throws {
        let values = Self.gradient(4096, seed: 11)
        let (sent, _, bytes) = try Self.roundTrip(.int8, values)
        #expect(bytes == 4 + 4096)
        let step = values.map(abs).max()! / 127
        for i in values.indices { #expect(abs(sent[i] - values[i]) <= step / 2 * 1.0001) }
    }

    @Test func errorFeedbackDeliversEverythingEventually() throws {
        // A gradient pushed repeatedly with top-k: the running total sent tracks the running total of gradients,
        // short by exactly the residual.
        let g = Self.gradient(200, seed: 5)
        var residual = [Float](repeating: 0, count: 200), total = [Float](repeating: 0, count: 200)
        for _ in 0..<20 {
            for i in g.indices { residual[i] += g[i] }
            let (sent, left, _) = try Self.roundTrip(.topK(fraction: 0.1), residual)
            residual = left
            for i in g.indices { total[i] += sent[i] }
        }
        for i in g.indices { #expect(abs(total[i] + residual[i] - 20 * g[i]) <= 1e-4 * max(1, abs(20 * g[i]))) }
    }

    @Test func malformedPayloadsAreRefused() {
        var out = [Float](repeating: 0, count: 4)
        let badIndex: [UInt8] = [9, 0, 0, 0, 0, 0, 128, 63]  // index 9 in a 4-element tensor
        out.withUnsafeMutableBufferPointer { o in
            #expect(throws: SwiftPSError.self) {
                try badIndex.withUnsafeBytes { try GradientCodec.decode(.topK, payload: $0, count: 4, into: o.baseAddress!) }
            }
            #expect(throws: SwiftPSError.self) {
                try [UInt8](repeating: 0, count: 7).withUnsafeBytes { try GradientCodec.decode(.int8, payload: $0, count: 4, into: o.baseAddress!) }
            }
        }
        #expect(DType.topK.accepts(byteCount: 8, count: 4) && !DType.topK.accepts(byteCount: 12, count: 4))
        #expect(!DType.topK.accepts(byteCount: 40, count: 4))
    }

    @Test func parsesTheFlag() {
        #expect(Compression(parsing: "topk:0.01") == .topK(fraction: 0.01))
        #expect(Compression(parsing: "INT8") == .int8 && Compression(parsing: "none") == Compression.none)
        for bad in ["topk:0", "topk:1.5", "topk:x", "int4", ""] { #expect(Compression(parsing: bad) == nil, "\(bad)") }
    }
}
