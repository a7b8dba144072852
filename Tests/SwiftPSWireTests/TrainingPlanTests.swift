import Testing
import SwiftPSCore
import SwiftPSWire

/// The job's training plan and parameter space on the wire.
@Suite struct TrainingPlanTests {
    @Test(arguments: [1, 2, 8, 1000])
    func accumulateRoundTrips(accumulate: Int) throws {
        var job = CoordinatorMessageTests.fullJob
        job.plan.accumulate = accumulate
        job.wireDType = .bf16
        let decoded = try roundTrip(RegisterReply(nodeID: 1, rank: 0, job: job)).job
        #expect(decoded == job)
        #expect(decoded.plan.accumulate == accumulate)
    }

    /// 0 — what a sender that leaves the field out puts on the wire — means 1.
    @Test func zeroMeansOne() throws {
        var job = JobConfig()
        job.plan.accumulate = 0
        job.plan.microBatches = 0
        let decoded = try roundTrip(RegisterReply(nodeID: 1, rank: 0, job: job)).job
        #expect(decoded.plan.accumulate == 1 && decoded.plan.microBatches == 1)
    }

    /// Every initializer and option survives the wire, and a learning-rate scale of 1 travels as the proto default.
    @Test func everyTensorOptionRoundTrips() throws {
        let tensors: [TensorSpec] = [
            .init(name: "z", shape: [2]), .init(name: "o", shape: [1, 1], initializer: .ones),
            .init(name: "c", shape: [3], initializer: .constant(-2.5)),
            .init(name: "n", shape: [4, 4], initializer: .normal(std: 0.02), lrScale: 3),
            .init(name: "u", shape: [5], initializer: .uniform(low: -1, high: 2), weightDecay: false),
            .init(name: "h", shape: [6, 2], initializer: .heNormal, fanIn: 9),
            .init(name: "x", shape: [2, 3, 4], initializer: .xavierUniform, fanOut: 11, frozen: true),
            .init(name: "p", shape: [7], initializer: .pushed),
        ]
        #expect(try roundTrip(DeclareTensors(tensors: tensors)) == DeclareTensors(tensors: tensors))
        #expect(try roundTrip(DeclareTensors(tensors: [])) == DeclareTensors(tensors: []))
    }
}
