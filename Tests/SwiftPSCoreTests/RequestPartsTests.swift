import Testing
import SwiftPSCore

/// Cutting a push into bounded requests: every tensor once, in order, no part over budget unless a tensor alone is.
@Suite struct RequestPartsTests {
    @Test func nothingToSendIsNoRequest() {
        #expect(RequestParts.ranges(byteCounts: [], maxBytes: 10).isEmpty)
    }

    @Test func smallTensorsShareARequest() {
        #expect(RequestParts.ranges(byteCounts: [3, 3, 4], maxBytes: 10) == [0..<3])
    }

    @Test func aFullPartClosesBeforeTheTensorThatWouldOverflowIt() {
        #expect(RequestParts.ranges(byteCounts: [4, 4, 4, 4, 4], maxBytes: 10) == [0..<2, 2..<4, 4..<5])
    }

    @Test func aTensorOverBudgetGoesAlone() {
        #expect(RequestParts.ranges(byteCounts: [2, 25, 2, 2], maxBytes: 10) == [0..<1, 1..<2, 2..<4])
        #expect(RequestParts.ranges(byteCounts: [25], maxBytes: 10) == [0..<1])
    }

    @Test func aPartHoldsAtMostMaxTensors() {
        #expect(RequestParts.ranges(byteCounts: [1, 1, 1, 1, 1], maxBytes: 100, maxTensors: 2) == [0..<2, 2..<4, 4..<5])
    }

    /// 100,000 chunks of one float (`--chunk-elements 1`) are 400 KB, one request by bytes, but a server refuses more
    /// than 65,536 tensors in one: they go as 13 requests of at most 8,192.
    @Test func tinyChunksStayUnderTheServersTensorLimit() {
        let parts = RequestParts.ranges(byteCounts: Array(repeating: 4, count: 100_000))
        #expect(parts.count == 13)
        #expect(parts.allSatisfy { $0.count <= 8192 })
    }

    /// A 64 MiB tensor in the job's default 256 KiB chunks: 16 requests of 4 MiB.
    @Test func sixtyFourMiBInDefaultChunksIsSixteenRequests() {
        let parts = RequestParts.ranges(byteCounts: Array(repeating: 256 << 10, count: 256))
        #expect(parts.count == 16)
        #expect(parts.allSatisfy { $0.count == 16 })
    }

    @Test(arguments: 1...40) func partsCoverEveryTensorOnceInOrder(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed))
        let counts = (0..<Int(rng.next() % 30)).map { _ in Int(rng.next() % 20) }
        let budget = 1 + Int(rng.next() % 25), tensorBudget = 1 + Int(rng.next() % 6)
        let parts = RequestParts.ranges(byteCounts: counts, maxBytes: budget, maxTensors: tensorBudget)
        #expect(parts.flatMap { Array($0) } == Array(counts.indices))
        for part in parts {
            let bytes = counts[part].reduce(0, +)
            #expect(bytes <= budget || part.count == 1, "part \(part) holds \(bytes) bytes of budget \(budget)")
            #expect(part.count <= tensorBudget, "part \(part) holds more than \(tensorBudget) tensors")
        }
        // Greedy: joining any part to the first tensor of the next would overflow a budget.
        for (part, next) in zip(parts, parts.dropFirst()) {
            #expect(counts[part].reduce(0, +) + counts[next.lowerBound] > budget || part.count == tensorBudget)
        }
    }
}
