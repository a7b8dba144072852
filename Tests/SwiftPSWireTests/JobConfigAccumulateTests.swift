import Testing
import SwiftPSCore
import SwiftPSWire

/// JobConfig.accumulate (field 14) on the wire.
@Suite struct JobConfigAccumulateTests {
    @Test(arguments: [1, 2, 8, 1000])
    func roundTrips(accumulate: Int) throws {
        var job = CoordinatorMessageTests.fullJob
        job.accumulate = accumulate
        job.wireDType = .bf16
        let decoded = try roundTrip(RegisterReply(nodeID: 1, rank: 0, job: job)).job
        #expect(decoded == job)
        #expect(decoded.accumulate == accumulate)
    }

    /// 0 — what a sender that predates the field puts on the wire — means 1.
    @Test func zeroMeansOne() throws {
        var job = JobConfig()
        job.accumulate = 0
        #expect(try roundTrip(RegisterReply(nodeID: 1, rank: 0, job: job)).job.accumulate == 1)
        #expect(JobConfig().accumulate == 1)
    }
}
