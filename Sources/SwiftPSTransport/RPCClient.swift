import Foundation
import Synchronization
import SwiftPSCore
import SwiftPSWire

/// Calls rpcs on one peer over a ZeroMQ DEALER socket, as `async` functions.
///
/// The socket lives on its own thread, which sends what callers queue, matches replies to requests by id and fails
/// requests whose deadline passes; callers never block Swift's cooperative pool. Requests sent before the peer is up
/// wait in ZeroMQ's queue until it connects (or until their deadline).
public final class RPCClient: Sendable {
    public let endpoint: String
    private let shared: Mutex<Shared>
    private let wake = WakeSignal()
    private let nextID = Atomic<UInt64>(1)
    private let exit = ThreadExit()

    struct Shared {
        var queue: [Outgoing] = []
        var closed = false
        /// The socket thread is (about to be) blocked in zmq_poll with nothing queued: a new request must wake it.
        var sleeping = false
    }

    struct Outgoing: Sendable {
        var id: UInt64
        var envelope: [UInt8]
        var payloads: [Payload]
        var deadline: ContinuousClock.Instant
        var method: Method
        /// Called once, on the socket thread (or the caller's, when closed), with the reply or the failure.
        var complete: @Sendable (Result<Reply, any Error>) -> Void
    }

    /// Connects (lazily, as ZeroMQ does) to `endpoint`, e.g. `tcp://10.0.0.5:7000`.
    public init(context: ZMQContext, endpoint: String) throws(SwiftPSError) {
        _ = AllocatorTuning.applied
        self.endpoint = endpoint
        shared = Mutex(Shared())
        let socket = try ZMQSocket(context, type: zmqDealer)
        try socket.set(zmqSendHighWater, Int32(100_000))
        try socket.set(zmqReceiveHighWater, Int32(100_000))
        try socket.connect(endpoint)
        let confined = ConfinedSocket(socket)
        let thread = Thread { [self] in run(confined.socket) }
        thread.name = "swiftps-client"
        thread.start()
    }

    /// Calls `method` with `request` and `tensors`; throws the reply's status when it is not OK, DEADLINE_EXCEEDED
    /// when no reply comes within `timeout`, CANCELLED once closed.
    public func call(_ method: Method, _ request: some WireMessage = Empty(), tensors: [OutgoingTensor] = [],
                     timeout: Duration = .seconds(30)) async throws -> Reply {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(method, request, tensors, timeout) { continuation.resume(with: $0) }
        }
    }

    /// Queues the call now and returns its reply to await later: calls started one after another from one task
    /// leave in that order (a pipelined worker relies on it), which separate `call`s in separate tasks do not.
    public func start(_ method: Method, _ request: some WireMessage = Empty(), tensors: [OutgoingTensor] = [],
                      timeout: Duration = .seconds(30)) -> PendingCall {
        let pending = PendingCall()
        enqueue(method, request, tensors, timeout) { pending.complete($0) }
        return pending
    }

    private func enqueue(_ method: Method, _ request: some WireMessage, _ tensors: [OutgoingTensor], _ timeout: Duration,
                         complete: @escaping @Sendable (Result<Reply, any Error>) -> Void) {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let timeoutMs = UInt32(clamping: timeout.milliseconds)
        let envelope = Envelope(requestID: id, method: method, timeoutMs: timeoutMs, body: request.encoded(),
                                tensors: OutgoingTensor.headers(tensors))
        let outgoing = Outgoing(id: id, envelope: envelope.encoded(), payloads: tensors.map(\.payload),
                                deadline: ContinuousClock.now + timeout, method: method, complete: complete)
        let accepted: Bool? = shared.withLock { state in
            guard !state.closed else { return nil }
            state.queue.append(outgoing)
            defer { state.sleeping = false }
            return state.sleeping
        }
        switch accepted {
        case true?: wake.signal()  // the thread is asleep in zmq_poll
        case false?: break         // it is awake and will see the queue before it sleeps
        case nil: complete(.failure(SwiftPSError(.cancelled, "client for \(endpoint) is closed")))
        }
    }

    /// Fails every call in flight with CANCELLED (never retried: closing is deliberate) and stops the socket thread,
    /// without waiting for it (callable from a signal handler's queue); `close()` also waits.
    public func abort() {
        let alreadyClosed = shared.withLock { state in
            defer { state.closed = true }
            return state.closed
        }
        if !alreadyClosed { wake.signal() }
    }

    /// Fails every call in flight with CANCELLED and stops the socket thread; waits until it has stopped.
    public func close() async {
        abort()
        await exit.wait()
    }

    // MARK: - The socket thread

    private func run(_ socket: ZMQSocket) {
        var pending: [UInt64: Outgoing] = [:]
        var items = [pollItem(socket: socket), pollItem(fd: wake.fd)]
        while true {
            let (outgoing, closed) = shared.withLock { state in
                defer {
                    state.queue.removeAll(keepingCapacity: true)
                    state.sleeping = false
                }
                return (state.queue, state.closed)
            }
            if closed {
                let error = SwiftPSError(.cancelled, "client for \(endpoint) closed")
                for request in outgoing { request.complete(.failure(error)) }
                for request in pending.values { request.complete(.failure(error)) }
                break
            }
            for request in outgoing {
                if send(request, on: socket) {
                    pending[request.id] = request
                } else {
                    request.complete(.failure(zmqError("cannot send \(request.method) to \(endpoint)",
                                                       code: .resourceExhausted)))
                }
            }
            let now = ContinuousClock.now
            let nearest = pending.values.lazy.map(\.deadline).min() ?? now + .milliseconds(100)
            let idle = shared.withLock { state in
                state.sleeping = state.queue.isEmpty && !state.closed
                return state.sleeping
            }
            _ = poll(&items, timeoutMs: idle ? max(0, min(100, (nearest - now).milliseconds + 1)) : 0)
            if isReadable(items[1]) { wake.drain() }
            while let frames = socket.receiveMessage() {
                deliver(frames, to: &pending)
            }
            expire(&pending, now: ContinuousClock.now)
        }
        exit.finished()
    }

    private func send(_ request: Outgoing, on socket: ZMQSocket) -> Bool {
        let sent = request.envelope.withUnsafeBytes { socket.send($0, more: !request.payloads.isEmpty) }
        guard sent else { return false }
        for (index, payload) in request.payloads.enumerated() {
            // After the first frame the rest of a multipart message is always accepted.
            _ = socket.send(payload, more: index + 1 < request.payloads.count)
        }
        return true
    }

    private func deliver(_ frames: [Frame], to pending: inout [UInt64: Outgoing]) {
        let envelope: Envelope
        do {
            envelope = try frames[0].withBytes { (bytes) throws(SwiftPSError) in try Envelope(decoding: bytes) }
        } catch {
            return  // not a reply we can match: nobody is waiting for it
        }
        guard let request = pending.removeValue(forKey: envelope.requestID) else { return }  // late or duplicate
        guard envelope.status == .ok else {
            request.complete(.failure(SwiftPSError(envelope.status, "\(request.method) at \(endpoint): \(envelope.statusMessage)")))
            return
        }
        do {
            let tensors = try matchTensors(envelope, payloads: frames[1...])
            request.complete(.success(Reply(envelope: envelope, tensors: tensors)))
        } catch {
            request.complete(.failure(error))
        }
    }

    private func expire(_ pending: inout [UInt64: Outgoing], now: ContinuousClock.Instant) {
        for (id, request) in pending where request.deadline <= now {
            pending[id] = nil
            request.complete(.failure(SwiftPSError(
                .deadlineExceeded, "\(request.method): no reply from \(endpoint) before the deadline")))
        }
    }
}

/// A call already on its way (see `RPCClient.start`), whose reply is awaited later, at most once.
public final class PendingCall: Sendable {
    private enum State {
        case waiting
        case awaited(CheckedContinuation<Reply, any Error>)
        case done(Result<Reply, any Error>)
        /// Handed out by `take`: the reply (and its frames) is no longer kept here.
        case taken
    }

    private let state = Mutex<State>(.waiting)

    /// The reply if it has come, without waiting (nil if not yet); once taken, the call keeps no reference to it, so
    /// its frames live only as long as the caller keeps them. A call is taken or awaited, not both.
    public func take() -> Result<Reply, any Error>? {
        state.withLock { state in
            guard case .done(let result) = state else { return nil }
            state = .taken
            return result
        }
    }

    /// The reply; throws as `RPCClient.call` does.
    public func value() async throws -> Reply {
        try await withCheckedThrowingContinuation { continuation in
            let result: Result<Reply, any Error>? = state.withLock { state in
                if case .done(let result) = state { return result }
                state = .awaited(continuation)
                return nil
            }
            if let result { continuation.resume(with: result) }
        }
    }

    func complete(_ result: Result<Reply, any Error>) {
        let waiter: CheckedContinuation<Reply, any Error>? = state.withLock { state in
            if case .awaited(let continuation) = state { return continuation }
            state = .done(result)
            return nil
        }
        waiter?.resume(with: result)
    }
}

/// Hands a socket to the thread that will own it from then on.
/// `@unchecked Sendable`: the creating thread never touches the socket after the hand-off.
final class ConfinedSocket: @unchecked Sendable {
    let socket: ZMQSocket
    init(_ socket: ZMQSocket) { self.socket = socket }
}
