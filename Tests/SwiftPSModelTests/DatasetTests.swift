import Testing
import SwiftPSModel

@Suite struct DatasetTests {
    /// Ten samples whose single feature is the sample's index, so every sample can be traced.
    let data = Dataset(inputs: 2, classes: 3, features: (0..<10).flatMap { [Float($0), -Float($0)] },
                       labels: (0..<10).map { Int32($0 % 3) })

    @Test func shardsCoverEverySampleOnceWithBalancedSizes() {
        let shards = (0..<3).map { data.shard(rank: $0, of: 3) }
        #expect(shards.map(\.count) == [4, 3, 3])
        #expect(shards.flatMap(\.features) == data.features)
        #expect(shards.flatMap(\.labels) == data.labels)
        #expect(shards.allSatisfy { $0.inputs == 2 && $0.classes == 3 })
    }

    @Test(arguments: [1, 2, 3, 4, 7, 10, 13])
    func everyPartitionIsExact(parts: Int) {
        let shards = (0..<parts).map { data.shard(rank: $0, of: parts) }
        #expect(shards.flatMap(\.features) == data.features)
        #expect(shards.map(\.count).reduce(0, +) == data.count)
        let sizes = shards.map(\.count)
        #expect(sizes.max()! - sizes.min()! <= 1)
    }

    @Test func majorityRateIsTheShareOfTheCommonestLabel() {
        #expect(data.majorityRate == 0.4)  // label 0 at indices 0, 3, 6, 9
        let skewed = Dataset(inputs: 1, classes: 4, features: [0, 0, 0, 0], labels: [3, 1, 3, 3])
        #expect(skewed.majorityRate == 0.75)
        #expect(Dataset(inputs: 1, classes: 2, features: [], labels: []).majorityRate == 0)
    }
}
