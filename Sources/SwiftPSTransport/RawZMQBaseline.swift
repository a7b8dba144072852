internal import CZeroMQ
import Foundation
import SwiftPSCore

/// Plain libzmq DEALER→ROUTER request/ack, nothing else: the ceiling the transport benchmark compares against.
///
/// Requests carry an 8-byte header frame and `frames` zero-copy payload frames of `requestBytes / frames`; the ROUTER
/// thread answers each with `frames` frames of `replyBytes / frames` (zero-copy too) and touches no data — the same
/// framing as a swiftps message cut into chunks. By default every frame of a message is sent from a part of memory of
/// its own, and successive requests go from successive parts of `requestMemory` bytes, so the kernel reads as much
/// distinct memory as it does for swiftps (a 64 MiB pull, or a 64 MiB push in 4 MiB requests, is 64 MiB of weights
/// or gradient, not one 4 MiB buffer that stays in cache); a smaller `replyMemory` sends the reply's frames round one
/// smaller buffer instead. Blocking calls: run it on a thread of its own.
public enum RawZMQBaseline {
    /// - Parameter requestMemory: bytes the requests cycle through (a multiple of `requestBytes`; default: one request).
    /// - Parameter replyMemory: bytes the reply's frames are sent from (a multiple of a frame; default: the reply's).
    /// - Returns: completed round trips and the seconds they took, keeping `window` requests in flight.
    public static func measure(requestBytes: Int, replyBytes: Int, frames: Int = 1, requestMemory: Int? = nil,
                               replyMemory: Int? = nil, window: Int,
                               duration: Duration) throws(SwiftPSError) -> (count: Int, seconds: Double) {
        _ = AllocatorTuning.applied
        // One context (so one I/O thread) per side, as two processes would have.
        let routerContext = ZMQContext(), dealerContext = ZMQContext()
        let router = try ZMQSocket(routerContext, type: ZMQ_ROUTER)
        try router.set(ZMQ_SNDHWM, Int32(100_000))
        try router.set(ZMQ_RCVHWM, Int32(100_000))
        try router.bind("tcp://127.0.0.1:0")
        let endpoint = router.lastEndpoint
        let dealer = try ZMQSocket(dealerContext, type: ZMQ_DEALER)
        try dealer.connect(endpoint)
        let requestMemory = max(requestBytes, requestMemory ?? 0), replyMemory = replyMemory ?? replyBytes
        let request = FloatBuffer(count: max(1, requestMemory / 4))
        let reply = FloatBuffer(count: max(1, replyMemory / 4))
        let stop = Stop()
        let confined = ConfinedSocket(router)
        let serverThread = Thread {
            let socket = confined.socket
            var items = [pollItem(socket: socket)]
            let parts = payloads(reply, frameOffsets(messageBytes: replyBytes, frames: frames, memory: replyMemory)[0],
                                 frameBytes: replyBytes / frames)
            while !stop.isSet {
                _ = poll(&items, timeoutMs: 20)
                while let message = socket.receiveMessage() {
                    _ = message[0].withBytes { socket.send($0, more: true) }
                    for (index, part) in parts.enumerated() { _ = socket.send(part, more: index + 1 < frames) }
                }
            }
            stop.finished()
        }
        serverThread.start()
        defer {
            stop.set()
            stop.waitFinished()
        }
        let requests = frameOffsets(messageBytes: requestBytes, frames: frames, memory: requestMemory).map {
            payloads(request, $0, frameBytes: requestBytes / frames)
        }
        var header: UInt64 = 0, next = 0
        func send() {
            _ = withUnsafeBytes(of: &header) { dealer.send($0, more: true) }
            for (index, part) in requests[next].enumerated() { _ = dealer.send(part, more: index + 1 < frames) }
            next = (next + 1) % requests.count
        }
        // Warm up the connection before timing.
        send()
        var items = [pollItem(socket: dealer)]
        while dealer.receiveMessage() == nil { _ = poll(&items, timeoutMs: 100) }
        let start = ContinuousClock.now, end = start + duration
        var inFlight = 0, completed = 0
        while ContinuousClock.now < end || inFlight > 0 {
            while inFlight < window && ContinuousClock.now < end {
                send()
                inFlight += 1
            }
            _ = poll(&items, timeoutMs: 100)
            while dealer.receiveMessage() != nil {
                inFlight -= 1
                completed += 1
            }
        }
        return (completed, (ContinuousClock.now - start).seconds)
    }
}

extension RawZMQBaseline {
    /// Where each frame of each message the baseline sends starts, in a buffer of `memory` bytes: one message per
    /// `messageBytes` of it (at least one), every frame following on from the one before and wrapping round the end.
    public static func frameOffsets(messageBytes: Int, frames: Int, memory: Int) -> [[Int]] {
        let frameBytes = messageBytes / frames
        precondition(frames > 0 && frameBytes > 0 && memory % frameBytes == 0, "frames must tile the memory")
        return (0..<max(1, memory / messageBytes)).map { message in
            (0..<frames).map { frame in (message * messageBytes + frame * frameBytes) % memory }
        }
    }
}

/// Frames of `frameBytes` of `buffer`, one from each offset.
private func payloads(_ buffer: FloatBuffer, _ offsets: [Int], frameBytes: Int) -> [Payload] {
    offsets.map { offset in
        Payload(owner: buffer, bytes: UnsafeRawBufferPointer(start: UnsafeRawPointer(buffer.pointer) + offset, count: frameBytes))
    }
}

/// A stop flag and a "the thread has finished" signal.
private final class Stop: Sendable {
    private let flag = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func finished() { done.signal() }
    func waitFinished() { done.wait() }
}

/// Runs blocking work on a new thread and awaits its result, keeping it off Swift's cooperative pool.
public func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
        }
        thread.start()
    }
}


import Synchronization
