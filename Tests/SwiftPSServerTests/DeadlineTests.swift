import Testing
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport

/// Per-request deadlines: a call nobody answers ends with DEADLINE_EXCEEDED naming the method and the peer.
@Suite struct DeadlineTests {
    @Test func unansweredCallTimesOutClearly() async throws {
        let port = try #require((40_000..<40_100).randomElement())
        let client = try RPCClient(context: ZMQContext(), endpoint: "tcp://127.0.0.1:\(port)")
        let start = ContinuousClock.now
        do {
            _ = try await client.call(.stats, timeout: .milliseconds(200))
            Issue.record("a call with no server answered")
        } catch let error as SwiftPSError {
            #expect(error.code == .deadlineExceeded)
            #expect(error.message.contains("ParameterServer/Stats") && error.message.contains("127.0.0.1:\(port)"),
                    "\(error.message)")
        }
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(200) && waited < .seconds(2), "\(waited)")
        await client.close()
    }

    /// Closing is deliberate, so calls fail with CANCELLED (which nothing retries), not UNAVAILABLE: a worker
    /// interrupted while its first pull retries an absent server must stop at once.
    @Test func abortFailsCallsInFlightAndLaterCallsAsCancelled() async throws {
        let client = try RPCClient(context: ZMQContext(), endpoint: "tcp://127.0.0.1:9")
        let inFlight = client.start(.stats, timeout: .seconds(30))
        let start = ContinuousClock.now
        client.abort()
        let aborted = await #expect(throws: SwiftPSError.self) { _ = try await inFlight.value() }
        #expect(aborted?.code == .cancelled)
        #expect(ContinuousClock.now - start < .seconds(5))
        await client.close()
        let refused = await #expect(throws: SwiftPSError.self) { _ = try await client.call(.stats, timeout: .seconds(1)) }
        #expect(refused?.code == .cancelled)
    }
}
