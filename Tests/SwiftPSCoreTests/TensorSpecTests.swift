import Foundation
import Testing
import SwiftPSCore

@Suite struct TensorSpecTests {
    @Test func aJSONSpaceReadsEveryField() throws {
        let json = #"""
        {"tensors": [
          {"name": "w", "shape": [784, 10], "init": "he_normal"},
          {"name": "b", "shape": [10], "weight_decay": false},
          {"name": "e", "shape": [3, 2, 2], "init": "uniform:-0.5,0.25", "fan_in": 4, "fan_out": 6, "lr_scale": 0.5,
           "frozen": true},
          {"name": "p", "shape": [7], "init": "pushed"}
        ]}
        """#
        let space = try TensorSpec.space(json: Data(json.utf8))
        #expect(space == [
            TensorSpec(name: "w", shape: [784, 10], initializer: .heNormal),
            TensorSpec(name: "b", shape: [10], weightDecay: false),
            TensorSpec(name: "e", shape: [3, 2, 2], initializer: .uniform(low: -0.5, high: 0.25), fanIn: 4, fanOut: 6,
                       lrScale: 0.5, frozen: true),
            TensorSpec(name: "p", shape: [7], initializer: .pushed),
        ])
        #expect(space.map(\.count) == [7840, 10, 12, 7])
    }

    @Test(arguments: [
        (#"{"tensors": []}"#, "declares no tensor"),
        (#"{"tensor": []}"#, "\"tensors\""),
        (#"not json"#, "not JSON"),
        (#"{"tensors": [{"name": "w"}]}"#, "\"shape\" is required"),
        (#"{"tensors": [{"name": "w", "shape": [2, 0]}]}"#, "positive dimensions"),
        (#"{"tensors": [{"name": "w", "shape": [2]}, {"name": "w", "shape": [3]}]}"#, "declared twice"),
        (#"{"tensors": [{"name": "w", "shape": [2], "frozn": true}]}"#, "unknown field 'frozn'"),
        (#"{"tensors": [{"name": "w", "shape": [2], "init": "gauss:1"}]}"#, "init 'gauss:1'"),
        (#"{"tensors": [{"name": "w", "shape": [2], "init": "uniform:1,0"}]}"#, "low ≤ high"),
        (#"{"tensors": [{"name": "w", "shape": [65536, 65536]}]}"#, "more than"),
        (#"{"tensors": [{"name": "w", "shape": [2], "lr_scale": -1}]}"#, "lr_scale"),
        (#"{"tensors": [{"name": "w", "shape": [2], "lr_scale": 0}]}"#, "declare it frozen"),
    ])
    func aBadSpaceIsRefusedWithItsReason(json: String, reason: String) {
        do {
            _ = try TensorSpec.space(json: Data(json.utf8))
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    @Test func initializerTextRoundTrips() {
        let all: [TensorSpec.Initializer] = [.zeros, .ones, .constant(-1.5), .normal(std: 0.02),
                                             .uniform(low: -1, high: 2), .heNormal, .xavierUniform, .pushed]
        for initializer in all { #expect(TensorSpec.Initializer(parsing: initializer.description) == initializer) }
        for bad in ["", "zeros:1", "normal", "normal:x", "uniform:1", "he"] {
            #expect(TensorSpec.Initializer(parsing: bad) == nil, "\(bad)")
        }
    }

    /// Each initializer's values: exact for the constant ones, the right bounds and moments for the random ones,
    /// and the same element values however the tensor is cut.
    @Test func initializersGiveTheirDistributionWhateverTheCut() {
        let count = 40_000
        func values(_ initializer: TensorSpec.Initializer, shape: [Int] = [200, 200], cut: Int = 40_000) -> [Float] {
            let spec = TensorSpec(name: "t", shape: shape, initializer: initializer)
            let out = FloatBuffer(count: count)
            for offset in stride(from: 0, to: count, by: cut) {
                let piece = UnsafeMutableBufferPointer(start: out.pointer + offset, count: min(cut, count - offset))
                DeterministicInit.fill(piece, seed: 7, param: 3, spec: spec, offset: offset)
            }
            return out.array
        }
        func moments(_ v: [Float]) -> (mean: Double, std: Double) {
            let mean = v.reduce(0) { $0 + Double($1) } / Double(v.count)
            return (mean, (v.reduce(0) { $0 + pow(Double($1) - mean, 2) } / Double(v.count)).squareRoot())
        }
        #expect(values(.zeros).allSatisfy { $0 == 0 } && values(.pushed).allSatisfy { $0 == 0 })
        #expect(values(.ones).allSatisfy { $0 == 1 } && values(.constant(-3)).allSatisfy { $0 == -3 })
        let normal = moments(values(.normal(std: 0.5)))
        #expect(abs(normal.mean) < 0.01 && abs(normal.std - 0.5) < 0.01)
        let he = moments(values(.heNormal))  // fan-in 200
        #expect(abs(he.std - (2.0 / 200).squareRoot()) < 0.002)
        let uniform = values(.uniform(low: -1, high: 3))
        #expect(uniform.allSatisfy { $0 >= -1 && $0 < 3 } && abs(moments(uniform).mean - 1) < 0.03)
        let bound = Float((6.0 / 400).squareRoot())
        let xavier = values(.xavierUniform)
        #expect(xavier.allSatisfy { abs($0) <= bound } && xavier.max()! > 0.95 * bound)
        for initializer in [TensorSpec.Initializer.normal(std: 1), .uniform(low: 0, high: 1), .xavierUniform] {
            #expect(values(initializer, cut: 333) == values(initializer), "\(initializer) depends on the cut")
        }
    }

    @Test func aTensorsOptimizerScalesTheRateAndDropsDecay() {
        let job = OptimizerConfig(kind: .adam, learningRate: 0.1, weightDecay: 0.01)
        let scaled = TensorSpec(name: "t", shape: [1], lrScale: 0.5, weightDecay: false).optimizer(job)
        #expect(scaled.learningRate == 0.05 && scaled.weightDecay == 0 && scaled.kind == .adam)
        #expect(TensorSpec(name: "t", shape: [1]).optimizer(job) == job)
    }
}
