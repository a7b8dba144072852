import Testing
import SwiftPSCore
import SwiftPSWire

@Suite struct ServerMessageTests {
    @Test func pushAndPull() throws {
        #expect(try roundTrip(PushReply(versions: [1, 0, UInt64.max, 42])) == PushReply(versions: [1, 0, UInt64.max, 42]))
        #expect(try roundTrip(PushReply(versions: [])) == PushReply(versions: []))
        let keys = [Chunk.key(param: 0, chunk: 0), Chunk.key(param: 3, chunk: 17), Chunk.key(param: 0xFFFF_FFFF, chunk: 1)]
        for dtype in DType.allCases {
            #expect(try roundTrip(PullRequest(keys: keys, dtype: dtype)) == PullRequest(keys: keys, dtype: dtype))
            #expect(try roundTrip(PushPullRequest(dtype: dtype)) == PushPullRequest(dtype: dtype))
        }
    }

    @Test func stats() throws {
        var stats = StatsReply()
        (stats.pushes, stats.pulls, stats.rejected) = (10, 20, 3)
        (stats.bytesReceived, stats.bytesSent) = (1 << 35, 4096)
        (stats.keys, stats.elements, stats.nodeID) = (8, 1_000_000, 5)
        #expect(try roundTrip(stats) == stats)
        #expect(try roundTrip(StatsReply()) == StatsReply())
    }

    @Test func emptyIsNoBytes() throws {
        #expect(Empty().encoded() == [])
        try Empty.validate([])
        #expect(try roundTrip(Empty()) == Empty())
        // Unknown fields are skipped, as protobuf does: field 15 varint 1.
        try Empty.validate([0x78, 0x01])
    }
}
