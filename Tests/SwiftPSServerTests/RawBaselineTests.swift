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
}
