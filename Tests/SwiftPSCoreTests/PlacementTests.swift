import Testing
import SwiftPSCore

@Suite struct PlacementTests {
    static func params(_ counts: [Int]) -> [TensorSpec] {
        counts.enumerated().map { TensorSpec(name: "p\($0)", shape: [$1], initializer: .heNormal, fanIn: 1) }
    }

    /// (parameter sizes, chunk size, server ids)
    static let layouts: [([Int], Int, [UInt32])] = [
        ([7, 1, 13, 100], 4, [1, 2, 3]),
        ([64 * 512, 512, 512 * 10, 10], 65_536, [1]),
        ([64 * 512, 512, 512 * 10, 10], 1000, [4, 9, 2, 7]),
        ([1], 1, [5, 6]),
        ([1000], 64, [1, 2, 3, 4]),
        ([12, 13, 11], 12, [1, 2]),
    ]

    @Test(arguments: layouts)
    func everyElementIsPlacedOnceInOrder(counts: [Int], chunk: Int, servers: [UInt32]) {
        let chunks = Placement.chunks(tensors: Self.params(counts), chunkElements: chunk, servers: servers)
        #expect(Set(chunks.map(\.key)).count == chunks.count, "keys are unique")
        #expect(chunks.allSatisfy { Set(servers).contains($0.server) })
        for (param, count) in counts.enumerated() {
            let mine = chunks.filter { $0.param == param }
            #expect(mine.map(\.key) == mine.indices.map { Chunk.key(param: param, chunk: $0) })
            #expect(mine.map(\.offset) == mine.indices.map { $0 * chunk }, "offsets are contiguous")
            #expect(mine.allSatisfy { $0.count >= 1 && $0.count <= chunk })
            #expect(mine.reduce(0) { $0 + $1.count } == count, "param \(param)")
            #expect(mine.last.map { $0.offset + $0.count } == count, "the top of the range is placed")
        }
        #expect(chunks.map(\.param) == chunks.map(\.param).sorted(), "chunks come in parameter order")
    }

    /// Greedy least-loaded placement, worked by hand (loads after each chunk in brackets, servers 10/20/30):
    /// p0c0 4 → 10 [4,0,0]; p0c1 3 → 20 [4,3,0]; p1c0 1 → 30 [4,3,1]; p2c0 4 → 30 [4,3,5];
    /// p2c1 4 → 20 [4,7,5]; p2c2 4 → 10 [8,7,5]; p2c3 1 → 30 [8,7,6].
    @Test func unevenKeySpaceIsPlacedAsWorkedByHand() {
        let chunks = Placement.chunks(tensors: Self.params([7, 1, 13]), chunkElements: 4, servers: [10, 20, 30])
        let expected = [
            Chunk(key: Chunk.key(param: 0, chunk: 0), param: 0, offset: 0, count: 4, server: 10),
            Chunk(key: Chunk.key(param: 0, chunk: 1), param: 0, offset: 4, count: 3, server: 20),
            Chunk(key: Chunk.key(param: 1, chunk: 0), param: 1, offset: 0, count: 1, server: 30),
            Chunk(key: Chunk.key(param: 2, chunk: 0), param: 2, offset: 0, count: 4, server: 30),
            Chunk(key: Chunk.key(param: 2, chunk: 1), param: 2, offset: 4, count: 4, server: 20),
            Chunk(key: Chunk.key(param: 2, chunk: 2), param: 2, offset: 8, count: 4, server: 10),
            Chunk(key: Chunk.key(param: 2, chunk: 3), param: 2, offset: 12, count: 1, server: 30),
        ]
        #expect(chunks == expected)
    }

    @Test func unevenKeySpaceLosesNothingAtTheTop() {
        let chunks = Placement.chunks(tensors: Self.params([7, 1, 13, 100]), chunkElements: 4, servers: [1, 2, 3])
        #expect(chunks.count == 2 + 1 + 4 + 25)
        #expect(chunks.reduce(0) { $0 + $1.count } == 121)
        #expect(chunks.filter { $0.param == 2 }.map(\.count) == [4, 4, 4, 1])
        let top = chunks.last
        #expect(top?.key == Chunk.key(param: 3, chunk: 24) && top?.offset == 96 && top?.count == 4)
        #expect(Set(chunks.map(\.server)) == [1, 2, 3])
    }

    @Test func largeTensorSpreadsOverEveryServer() {
        // 1000 elements in chunks of 64: 15 full chunks and one of 40, more than 64 × 4 servers.
        let chunks = Placement.chunks(tensors: Self.params([1000]), chunkElements: 64, servers: [1, 2, 3, 4])
        #expect(chunks.map(\.count) == Array(repeating: 64, count: 15) + [40])
        #expect(Set(chunks.map(\.server)) == [1, 2, 3, 4])
    }

    @Test(arguments: layouts)
    func loadIsBalancedWithinOneChunk(counts: [Int], chunk: Int, servers: [UInt32]) {
        let chunks = Placement.chunks(tensors: Self.params(counts), chunkElements: chunk, servers: servers)
        let loads = servers.map { id in chunks.filter { $0.server == id }.reduce(0) { $0 + $1.count } }
        let largest = chunks.map(\.count).max() ?? 0
        #expect(loads.max()! - loads.min()! <= largest, "loads \(loads)")
        #expect(loads.reduce(0, +) == counts.reduce(0, +))
    }

    @Test func serverOrderDoesNotMatter() {
        let params = Self.params([7, 1, 13, 100])
        let sorted = Placement.chunks(tensors: params, chunkElements: 4, servers: [10, 20, 30])
        #expect(Placement.chunks(tensors: params, chunkElements: 4, servers: [30, 10, 20]) == sorted)
        #expect(Placement.chunks(tensors: params, chunkElements: 4, servers: [20, 30, 10]) == sorted)
        #expect(sorted.first?.server == 10, "ties go to the lowest id")
    }

    /// (parameter size, chunk size, expected chunk sizes)
    @Test(arguments: [
        (12, 4, [4, 4, 4]), (12, 12, [12]), (12, 11, [11, 1]), (12, 13, [12]),
        (12, 5, [5, 5, 2]), (13, 4, [4, 4, 4, 1]), (11, 4, [4, 4, 3]), (1, 1, [1]),
    ])
    func chunkSizesAtTheEdges(count: Int, chunk: Int, expected: [Int]) {
        let chunks = Placement.chunks(tensors: Self.params([count]), chunkElements: chunk, servers: [1, 2])
        #expect(chunks.map(\.count) == expected)
        #expect(chunks.map(\.offset) == expected.indices.map { $0 * chunk })
    }
}
