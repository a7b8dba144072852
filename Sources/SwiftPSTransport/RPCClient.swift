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
    /// The most request payload bytes sent and not yet answered (or taken); nil: no limit (see `init`).
    public let maxPayloadInFlight: Int?
    /// A call started with `start` keeps its bytes in the window until its caller takes the reply.
    public let releaseWhenTaken: Bool
    private let shared: Mutex<Shared>
    private let wake = WakeSignal()
    private let nextID = Atomic<UInt64>(1)
    private let exit = ThreadExit()

    struct Shared {
        var queue: [Outgoing] = []
        var closed = false
        /// The socket thread is (about to be) blocked in zmq_poll with nothing queued: a new request must wake it.
        var sleeping = false
        /// Payload bytes whose replies callers have taken since the socket thread last looked (`releaseWhenTaken`).
        var taken = 0
    }

    struct Outgoing: Sendable {
        var id: UInt64
        var envelope: [UInt8]
        var payloads: [Payload]
        var deadline: ContinuousClock.Instant
        var method: Method
        var payloadBytes: Int
        /// Its bytes leave the window when the caller takes the reply, not when it arrives.
        var releasedWhenTaken: Bool
        /// Called once, on the socket thread (or the caller's, when closed), with the reply or the failure.
        var complete: @Sendable (Result<Reply, any Error>) -> Void
    }

    /// Connects (lazily, as ZeroMQ does) to `endpoint`, e.g. `tcp://10.0.0.5:7000`.
    /// - Parameters:
    ///   - security: with a client key, the connection is CurveZMQ (a server that does not admit the key never
    ///     answers: calls end at their deadline).
    ///   - maxPayloadInFlight: with a limit, requests wait on this side (in order) while the payload bytes of those
    ///     sent and not yet answered would exceed it; one request alone always goes. The peer then holds at most that
    ///     many bytes of this client's requests at once, however many it queues: a worker pushing a large layer in
    ///     parts would otherwise have them all arrive at a server, which reads them faster than it applies them and
    ///     holds them meanwhile.
    ///   - releaseWhenTaken: a call made with `start` leaves the window only when its caller takes the reply
    ///     (`PendingCall.value()` or `take()`), so replies that arrive faster than the caller uses them wait at the
    ///     peer instead of piling up here. The caller must then take replies in the order it started the calls, or
    ///     a call it waits for may never leave.
    public init(context: ZMQContext, endpoint: String, security: TransportSecurity = .open, maxPayloadInFlight: Int? = nil,
                releaseWhenTaken: Bool = false) throws(SwiftPSError) {
        _ = AllocatorTuning.applied
        self.endpoint = endpoint
        self.maxPayloadInFlight = maxPayloadInFlight
        self.releaseWhenTaken = releaseWhenTaken && maxPayloadInFlight != nil
        shared = Mutex(Shared())
        let socket = try ZMQSocket(context, type: zmqDealer)
        try socket.set(zmqSendHighWater, Int32(100_000))
        try socket.set(zmqReceiveHighWater, Int32(100_000))
        if let connecting = security.connecting {
            try socket.connectCurve(serverKey: connecting.serverPublicKey, keyPair: connecting.keyPair)
        }
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
            enqueue(method, request, tensors, timeout, releasedWhenTaken: false) { continuation.resume(with: $0) }
        }
    }

    /// Queues the call now and returns its reply to await later: calls started one after another from one task
    /// leave in that order (a pipelined worker relies on it), which separate `call`s in separate tasks do not.
    public func start(_ method: Method, _ request: some WireMessage = Empty(), tensors: [OutgoingTensor] = [],
                      timeout: Duration = .seconds(30)) -> PendingCall {
        let bytes = tensors.reduce(0) { $0 + $1.payload.bytes.count }
        var onTaken: (@Sendable () -> Void)?
        if releaseWhenTaken { onTaken = { [weak self] in self?.release(bytes) } }
        let pending = PendingCall(onTaken: onTaken)
        enqueue(method, request, tensors, timeout, releasedWhenTaken: releaseWhenTaken) { pending.complete($0) }
        return pending
    }

    /// A caller took the reply of a call whose payload was `bytes`: room for more (`releaseWhenTaken`).
    private func release(_ bytes: Int) {
        let asleep = shared.withLock { state in
            state.taken += bytes
            defer { state.sleeping = false }
            return state.sleeping
        }
        if asleep { wake.signal() }
    }

    private func enqueue(_ method: Method, _ request: some WireMessage, _ tensors: [OutgoingTensor], _ timeout: Duration,
                         releasedWhenTaken: Bool,
                         complete: @escaping @Sendable (Result<Reply, any Error>) -> Void) {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let timeoutMs = UInt32(clamping: timeout.milliseconds)
        let envelope = Envelope(requestID: id, method: method, timeoutMs: timeoutMs, body: request.encoded(),
                                tensors: OutgoingTensor.headers(tensors))
        let outgoing = Outgoing(id: id, envelope: envelope.encoded(), payloads: tensors.map(\.payload),
                                deadline: ContinuousClock.now + timeout, method: method,
                                payloadBytes: tensors.reduce(0) { $0 + $1.payload.bytes.count },
                                releasedWhenTaken: releasedWhenTaken, complete: complete)
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
        var window = Window(limit: maxPayloadInFlight)
        var items = [pollItem(socket: socket), pollItem(fd: wake.fd)]
        while true {
            let (outgoing, closed, taken) = shared.withLock { state in
                defer {
                    state.queue.removeAll(keepingCapacity: true)
                    state.sleeping = false
                    state.taken = 0
                }
                return (state.queue, state.closed, state.taken)
            }
            window.bytesInFlight -= taken
            if closed {
                let error = SwiftPSError(.cancelled, "client for \(endpoint) closed")
                for request in outgoing + window.waiting { request.complete(.failure(error)) }
                for request in pending.values { request.complete(.failure(error)) }
                break
            }
            window.add(outgoing)
            while let request = window.next() {
                if send(request, on: socket) {
                    pending[request.id] = request
                } else {
                    window.answered(request)
                    request.complete(.failure(zmqError("cannot send \(request.method) to \(endpoint)",
                                                       code: .resourceExhausted)))
                }
            }
            let now = ContinuousClock.now
            let nearest = [pending.values.lazy.map(\.deadline).min(), window.waiting.lazy.map(\.deadline).min()]
                .compactMap { $0 }.min() ?? now + .milliseconds(100)
            let idle = shared.withLock { state in
                state.sleeping = state.queue.isEmpty && !state.closed && state.taken == 0
                return state.sleeping
            }
            _ = poll(&items, timeoutMs: idle ? max(0, min(100, (nearest - now).milliseconds + 1)) : 0)
            if isReadable(items[1]) { wake.drain() }
            while let frames = socket.receiveMessage() {
                deliver(frames, to: &pending, window: &window)
            }
            expire(&pending, window: &window, now: ContinuousClock.now)
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

    private func deliver(_ frames: [Frame], to pending: inout [UInt64: Outgoing], window: inout Window) {
        let envelope: Envelope
        do {
            envelope = try frames[0].withBytes { (bytes) throws(SwiftPSError) in try Envelope(decoding: bytes) }
        } catch {
            return  // not a reply we can match: nobody is waiting for it
        }
        guard let request = pending.removeValue(forKey: envelope.requestID) else { return }  // late or duplicate
        window.answered(request)
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

    private func expire(_ pending: inout [UInt64: Outgoing], window: inout Window, now: ContinuousClock.Instant) {
        for (id, request) in pending where request.deadline <= now {
            pending[id] = nil
            window.answered(request)
            request.complete(.failure(SwiftPSError(
                .deadlineExceeded, "\(request.method): no reply from \(endpoint) before the deadline")))
        }
        for request in window.expired(now: now) {
            // Never sent, so never counted; counted now if its caller's take will release it.
            if request.releasedWhenTaken { window.bytesInFlight += request.payloadBytes }
            request.complete(.failure(SwiftPSError(
                .deadlineExceeded, "\(request.method): not sent to \(endpoint) before the deadline (its payload waited for room under \(maxPayloadInFlight ?? 0) bytes in flight)")))
        }
    }

    /// The requests waiting for room under `maxPayloadInFlight`, and the payload bytes in flight; socket thread only.
    struct Window {
        let limit: Int?
        private var queue: [Outgoing] = []
        private var head = 0
        var bytesInFlight = 0

        init(limit: Int?) { self.limit = limit }

        var waiting: ArraySlice<Outgoing> { queue[head...] }

        mutating func add(_ requests: [Outgoing]) {
            if head > 0 && head * 2 >= queue.count {
                queue.removeFirst(head)
                head = 0
            }
            queue += requests
        }

        /// The next request to send, if it fits (or nothing else is in flight); taken off the queue and counted.
        mutating func next() -> Outgoing? {
            guard head < queue.count else { return nil }
            let first = queue[head]
            if let limit, bytesInFlight > 0, bytesInFlight + first.payloadBytes > limit { return nil }
            bytesInFlight += first.payloadBytes
            head += 1
            return first
        }

        /// Takes the waiting requests whose deadline has passed.
        mutating func expired(now: ContinuousClock.Instant) -> [Outgoing] {
            guard waiting.contains(where: { $0.deadline <= now }) else { return [] }
            let expired = waiting.filter { $0.deadline <= now }
            queue = waiting.filter { $0.deadline > now }
            head = 0
            return expired
        }

        /// A sent request has its reply (or failed): its bytes leave the window, unless they leave when taken.
        mutating func answered(_ request: Outgoing) {
            if !request.releasedWhenTaken { bytesInFlight -= request.payloadBytes }
        }
    }
}

/// A call already on its way (see `RPCClient.start`), whose reply is awaited or taken later, once.
public final class PendingCall: Sendable {
    private enum State {
        case waiting
        case awaited(CheckedContinuation<Reply, any Error>)
        case done(Result<Reply, any Error>)
        /// Handed to the caller: the reply (and its frames) is no longer kept here.
        case taken
    }

    private let state = Mutex<State>(.waiting)
    /// Called once, when the caller gets the reply (or the failure).
    private let onTaken: (@Sendable () -> Void)?

    init(onTaken: (@Sendable () -> Void)? = nil) { self.onTaken = onTaken }

    /// The reply; throws as `RPCClient.call` does.
    public func value() async throws -> Reply {
        try await withCheckedThrowingContinuation { continuation in
            let result: Result<Reply, any Error>? = state.withLock { state in
                if case .done(let result) = state {
                    state = .taken
                    return result
                }
                state = .awaited(continuation)
                return nil
            }
            if let result {
                onTaken?()
                continuation.resume(with: result)
            }
        }
    }

    /// The reply if it has come, without waiting (nil if not yet); the call then keeps no reference to it.
    public func take() -> Result<Reply, any Error>? {
        let result: Result<Reply, any Error>? = state.withLock { state in
            guard case .done(let result) = state else { return nil }
            state = .taken
            return result
        }
        if result != nil { onTaken?() }
        return result
    }

    func complete(_ result: Result<Reply, any Error>) {
        let waiter: CheckedContinuation<Reply, any Error>? = state.withLock { state in
            if case .awaited(let continuation) = state {
                state = .taken
                return continuation
            }
            state = .done(result)
            return nil
        }
        if let waiter {
            onTaken?()
            waiter.resume(with: result)
        }
    }
}

/// Hands a socket to the thread that will own it from then on.
/// `@unchecked Sendable`: the creating thread never touches the socket after the hand-off.
final class ConfinedSocket: @unchecked Sendable {
    let socket: ZMQSocket
    init(_ socket: ZMQSocket) { self.socket = socket }
}
