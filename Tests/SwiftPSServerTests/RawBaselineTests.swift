import Testing
import SwiftPSTransport

@Suite struct RawBaselineTests {
    @Test(arguments: [(4096, 16, 2), (16, 4096, 2), (1 << 20, 16, 2), (16, 1 << 20, 2), (4096, 16, 32)])
    func completesRoundTrips(request: Int, reply: Int, window: Int) throws {
        let (count, seconds) = try RawZMQBaseline.measure(requestBytes: request, replyBytes: reply, window: window,
                                                          duration: .milliseconds(100))
        #expect(count > 10)
        #expect(seconds >= 0.1)
    }

    /// Several frames per message, requests cycling through memory four requests long (as for a 64 MiB push in
    /// parts), and replies sent round a buffer smaller than themselves (as for a 64 MiB pull from cache).
    @Test func cyclesThroughRequestAndReplyMemory() throws {
        let (count, _) = try RawZMQBaseline.measure(requestBytes: 1 << 16, replyBytes: 1 << 18, frames: 4,
                                                    requestMemory: 1 << 18, replyMemory: 1 << 16, window: 4,
                                                    duration: .milliseconds(100))
        #expect(count > 10)
    }

    @Test func framesComeFromDistinctMemoryOrWrapRoundIt() {
        // A 64 MiB push in 4 MiB requests of 2 frames, from 64 MiB: every frame from memory of its own.
        let push = RawZMQBaseline.frameOffsets(messageBytes: 4 << 20, frames: 2, memory: 64 << 20)
        #expect(push.count == 16)
        #expect(push.flatMap { $0 } == (0..<32).map { $0 * (2 << 20) })
        // The same requests from one 4 MiB buffer: one message, sent over and over.
        #expect(RawZMQBaseline.frameOffsets(messageBytes: 4 << 20, frames: 2, memory: 4 << 20) == [[0, 2 << 20]])
        // A 64 MiB reply of 16 frames round a 4 MiB buffer: every frame from its start.
        #expect(RawZMQBaseline.frameOffsets(messageBytes: 64 << 20, frames: 16, memory: 4 << 20) == [Array(repeating: 0, count: 16)])
        // A 16 MiB reply of 8 frames round 8 MiB: the second half of the frames repeats the first.
        #expect(RawZMQBaseline.frameOffsets(messageBytes: 16 << 20, frames: 8, memory: 8 << 20)
                == [[0, 2, 4, 6, 0, 2, 4, 6].map { $0 << 20 }])
    }
}
