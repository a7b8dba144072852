import SwiftPSCore

/// A bare DEALER that sends and receives arbitrary frames: for tests and tools that must speak to a server
/// byte by byte (malformed envelopes, missing frames). Blocking: call it from a thread of its own.
public final class RawDealer {
    private let socket: ZMQSocket

    /// - Parameter receiveHighWater: replies libzmq queues for this socket before it stops reading from the
    ///   connection (1 and never `receive`: a peer that does not read its replies).
    public init(context: ZMQContext, endpoint: String, receiveHighWater: Int32 = 1000) throws(SwiftPSError) {
        socket = try ZMQSocket(context, type: zmqDealer)
        try socket.set(zmqReceiveHighWater, receiveHighWater)
        try socket.connect(endpoint)
    }

    /// Sends one message made of `frames`.
    public func send(_ frames: [[UInt8]]) throws(SwiftPSError) {
        for (index, frame) in frames.enumerated() {
            let sent = frame.withUnsafeBytes { socket.send($0, more: index + 1 < frames.count) }
            guard sent else { throw zmqError("raw send") }
        }
    }

    /// The next message's frames, or nil if none arrives within `timeout`.
    public func receive(timeout: Duration) -> [[UInt8]]? {
        let end = ContinuousClock.now + timeout
        var items = [pollItem(socket: socket)]
        while true {
            if let frames = socket.receiveMessage() { return frames.map { $0.withBytes { Array($0) } } }
            let left = (end - ContinuousClock.now).milliseconds
            if left <= 0 { return nil }
            _ = poll(&items, timeoutMs: left)
        }
    }
}
