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

    /// Several frames per message, and requests cycling through memory four requests long, as the transport benchmark
    /// uses for a 64 MiB push in parts.
    @Test func cyclesThroughRequestMemory() throws {
        let (count, _) = try RawZMQBaseline.measure(requestBytes: 1 << 16, replyBytes: 1 << 16, frames: 4,
                                                    requestMemory: 1 << 18, window: 4, duration: .milliseconds(100))
        #expect(count > 10)
    }
}
