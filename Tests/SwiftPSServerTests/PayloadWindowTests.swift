import Testing
import Synchronization
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport

/// `RPCClient(maxPayloadInFlight:)`: requests beyond the window wait on the client, in order, so the server never
/// holds more than the window of one client's requests; every request still gets its reply.
@Suite struct PayloadWindowTests {
    /// Answers nothing until its next tick, and records the most requests it held unanswered at once.
    final class HoldingHandler: RPCHandler {
        let most: Most
        private var held: [Route] = []

        final class Most: Sendable {
            let value = Atomic<Int>(0)
        }

        init(most: Most) { self.most = most }

        func handle(_ request: IncomingRequest) -> [OutgoingReply] {
            held.append(request.route)
            if held.count > most.value.load(ordering: .relaxed) { most.value.store(held.count, ordering: .relaxed) }
            return []
        }

        func tick(now: ContinuousClock.Instant) -> [OutgoingReply] {
            defer { held = [] }
            return held.map { OutgoingReply(to: $0, Empty()) }
        }
    }

    /// Answers every request at once, counting them.
    final class CountingHandler: RPCHandler {
        let count: HoldingHandler.Most
        init(count: HoldingHandler.Most) { self.count = count }

        func handle(_ request: IncomingRequest) -> [OutgoingReply] {
            count.value.add(1, ordering: .relaxed)
            return [OutgoingReply(to: request.route, Empty())]
        }

        func tick(now: ContinuousClock.Instant) -> [OutgoingReply] { [] }
    }

    /// With `releaseWhenTaken`, replies nobody has taken keep their requests in the window: no more are sent until
    /// the caller takes them, in order.
    @Test func untakenRepliesHoldTheWindow() async throws {
        let handled = HoldingHandler.Most()
        let context = ZMQContext()
        let server = try RPCServer(context: context, bind: "tcp://127.0.0.1:0", handler: CountingHandler(count: handled))
        let client = try RPCClient(context: context, endpoint: server.endpoint, maxPayloadInFlight: 2 * 4096,
                                   releaseWhenTaken: true)
        let payload = FloatBuffer(count: 1024, repeating: 1)
        let calls = (0..<6).map { index in
            client.start(.push, Empty(), tensors: [OutgoingTensor(key: UInt64(index), count: 1024, payload: Payload(payload))])
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while calls[1].take() == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        // The second reply is taken, the first is not: only one more request may have gone.
        try await Task.sleep(for: .milliseconds(200))
        #expect(handled.value.load(ordering: .relaxed) == 3)
        for call in [calls[0]] + calls[2...] { _ = try await call.value() }
        #expect(handled.value.load(ordering: .relaxed) == 6)
        await client.close()
        await server.stop()
    }

    @Test(arguments: [nil, 2 * 4096])
    func theServerHoldsAtMostTheWindow(_ window: Int?) async throws {
        let most = HoldingHandler.Most()
        let context = ZMQContext()
        let server = try RPCServer(context: context, bind: "tcp://127.0.0.1:0", handler: HoldingHandler(most: most))
        let client = try RPCClient(context: context, endpoint: server.endpoint, maxPayloadInFlight: window)
        let payload = FloatBuffer(count: 1024, repeating: 1)
        let calls = (0..<8).map { index in
            client.start(.push, Empty(), tensors: [OutgoingTensor(key: UInt64(index), count: 1024, payload: Payload(payload))])
        }
        for call in calls { _ = try await call.value() }
        if window == nil {
            #expect(most.value.load(ordering: .relaxed) > 2, "without a window every request arrives at once")
        } else {
            #expect(most.value.load(ordering: .relaxed) == 2, "two requests of 4096 bytes fit the window")
        }
        await client.close()
        await server.stop()
    }
}
