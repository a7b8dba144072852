import Foundation
import Synchronization
import SwiftPSCore
import SwiftPSWire

/// Where a reply goes: the ZeroMQ routing id of the caller and the request being answered.
public struct Route: Sendable, Hashable {
    public var identity: [UInt8]
    public var requestID: UInt64
    public var method: Int

    public init(identity: [UInt8], requestID: UInt64, method: Int) {
        self.identity = identity
        self.requestID = requestID
        self.method = method
    }
}

/// A request as a handler sees it: its envelope and its tensors, read in place from the received frames.
public struct IncomingRequest {
    public var route: Route
    /// Who sent it, by the CURVE key it connected with; nil on an open server (anyone).
    public var peer: Peer?
    public var envelope: Envelope
    public var tensors: [ReceivedTensor]
    /// Envelope plus payload bytes.
    public var byteCount: Int

    public init(route: Route, envelope: Envelope, tensors: [ReceivedTensor] = [], byteCount: Int = 0, peer: Peer? = nil) {
        self.route = route
        self.peer = peer
        self.envelope = envelope
        self.tensors = tensors
        self.byteCount = byteCount
    }
}

/// A reply to send: where to, its status and rpc message, and its tensors.
public struct OutgoingReply {
    public var route: Route
    public var status: StatusCode
    public var message: String
    public var body: [UInt8]
    public var tensors: [OutgoingTensor]

    public init(to route: Route, _ body: some WireMessage = Empty(), tensors: [OutgoingTensor] = []) {
        self.route = route
        status = .ok
        message = ""
        self.body = body.encoded()
        self.tensors = tensors
    }

    public init(to route: Route, error: SwiftPSError) {
        self.route = route
        status = error.code
        message = error.message
        body = []
        tensors = []
    }
}

/// The logic behind an `RPCServer`: requests in, replies out, no I/O of its own.
///
/// Both calls run on the server's socket thread, one at a time, so a handler needs no locks for its own state and
/// can be driven directly in tests. A handler may hold a request back (a barrier) and answer it from a later call.
public protocol RPCHandler: AnyObject {
    func handle(_ request: IncomingRequest) -> [OutgoingReply]
    /// Called at least every `RPCServer.tickInterval`, for timeouts and deferred answers.
    func tick(now: ContinuousClock.Instant) -> [OutgoingReply]
    /// Told of a request the server refused before the handler saw it (malformed, oversized…), for its counters.
    func refused(_ error: SwiftPSError)
}

extension RPCHandler {
    public func refused(_ error: SwiftPSError) {}
}

/// Limits a server enforces on every request before its handler sees it.
public struct RequestLimits: Sendable {
    /// Envelope plus payloads. A single frame above this is dropped by libzmq itself (ZMQ_MAXMSGSIZE), which
    /// disconnects that peer; a message whose frames add up to more is answered RESOURCE_EXHAUSTED. libzmq assembles
    /// a whole message before the server sees it, so one message may hold several frames of this size until then.
    public var maxMessageBytes: Int
    public var maxTensors: Int
    /// Reply payload bytes one peer may leave unread in libzmq's queue (see `ReplyLedger`); past it, its requests
    /// are answered RESOURCE_EXHAUSTED until it reads.
    public var maxQueuedBytesPerPeer: Int
    /// The same over all peers.
    public var maxQueuedBytes: Int

    public init(maxMessageBytes: Int = 64 << 20, maxTensors: Int = 65_536, maxQueuedBytesPerPeer: Int = 256 << 20,
                maxQueuedBytes: Int = 1 << 30) {
        self.maxMessageBytes = maxMessageBytes
        self.maxTensors = maxTensors
        self.maxQueuedBytesPerPeer = maxQueuedBytesPerPeer
        self.maxQueuedBytes = maxQueuedBytes
    }
}

/// Serves rpcs on a ZeroMQ ROUTER socket from a dedicated thread, handing each well-formed request to a handler.
///
/// Malformed envelopes, payload frames that do not match their headers and oversized messages are answered with an
/// error here; the handler never sees them. With `TransportSecurity.serving` the socket is a CurveZMQ server whose
/// clients a ZAP handler admits by key, and each request carries its `Peer`.
public final class RPCServer: Sendable {
    public static let tickInterval = Duration.milliseconds(50)
    /// How often free heap memory goes back to the system, so that a spike (say, a burst of huge requests) does not
    /// stay in the process's RSS; rare enough that steady traffic keeps reusing its mapped buffers.
    static let trimInterval = Duration.seconds(10)

    /// The endpoint actually bound, with the real port (e.g. `tcp://127.0.0.1:41234`).
    public let endpoint: String
    private let wake = WakeSignal()
    private let stopping = Atomic<Bool>(false)
    private let exit = ThreadExit()
    private let zap: ZAPHandler?
    private let ledger = ReplyLedger()
    /// `RequestLimits.maxQueuedBytes`, which the owner may raise once it knows its size (`setMaxQueuedBytes`).
    private let maxQueuedBytes: Atomic<Int>

    /// Binds `bind` (e.g. `tcp://*:0`) and starts serving with `handler`, which belongs to the server thread from now on.
    public init(context: ZMQContext, bind: String, limits: RequestLimits = RequestLimits(),
                security: TransportSecurity = .open, log: Log = Log("transport"),
                handler: some RPCHandler) throws(SwiftPSError) {
        _ = AllocatorTuning.applied
        maxQueuedBytes = Atomic(limits.maxQueuedBytes)
        // The ZAP handler is bound before the socket: libzmq admits every CURVE client while none is.
        zap = try security.serving.map { serving throws(SwiftPSError) in
            try ZAPHandler(context: context, clients: serving.clients, log: log)
        }
        let socket = try ZMQSocket(context, type: zmqRouter, lingerMs: 1000)
        if let serving = security.serving { try socket.serveCurve(serving.keyPair) }
        try socket.set(zmqMaxMessageSize, Int64(limits.maxMessageBytes))
        try socket.set(zmqSendHighWater, Int32(100_000))
        try socket.set(zmqReceiveHighWater, Int32(100_000))
        try socket.bind(bind)
        endpoint = socket.lastEndpoint
        let confined = ConfinedHandler(socket: socket, handler: handler)
        let thread = Thread { [self] in run(confined.socket, confined.handler, limits) }
        thread.name = "swiftps-server"
        thread.start()
    }

    /// Sets the bytes of queued replies all peers together may leave unread (a server sizes it by its shard).
    public func setMaxQueuedBytes(_ bytes: Int) { maxQueuedBytes.store(bytes, ordering: .relaxed) }

    /// Stops serving and waits for the socket thread to finish.
    public func stop() async {
        stopping.store(true, ordering: .releasing)
        wake.signal()
        await exit.wait()
        await zap?.stop()
    }

    // MARK: - The socket thread

    private func run(_ socket: ZMQSocket, _ handler: any RPCHandler, _ limits: RequestLimits) {
        var items = [pollItem(socket: socket), pollItem(fd: wake.fd)]
        var nextTick = ContinuousClock.now + Self.tickInterval
        var nextTrim = ContinuousClock.now + Self.trimInterval
        while !stopping.load(ordering: .acquiring) {
            _ = poll(&items, timeoutMs: max(0, (nextTick - ContinuousClock.now).milliseconds + 1))
            if isReadable(items[1]) { wake.drain() }
            var served = 0
            while served < 1024, let frames = socket.receiveMessage() {
                served += 1
                let replies = dispatch(frames, handler, limits)
                for reply in replies { send(reply, on: socket) }
            }
            let now = ContinuousClock.now
            if now >= nextTick {
                for reply in handler.tick(now: now) { send(reply, on: socket) }
                nextTick = now + Self.tickInterval
            }
            if now >= nextTrim {
                AllocatorTuning.giveBackFreeMemory()
                nextTrim = now + Self.trimInterval
            }
        }
        exit.finished()
    }

    private func dispatch(_ frames: [Frame], _ handler: any RPCHandler, _ limits: RequestLimits) -> [OutgoingReply] {
        guard frames.count >= 2 else { return [] }  // a ROUTER message always starts with the peer's id
        var route = Route(identity: frames[0].withBytes { Array($0) }, requestID: 0, method: 0)
        let byteCount = frames.dropFirst().reduce(0) { $0 + $1.count }
        do {
            let envelope = try frames[1].withBytes { (bytes) throws(SwiftPSError) in try Envelope(decoding: bytes) }
            route.requestID = envelope.requestID
            route.method = envelope.methodRaw
            guard byteCount <= limits.maxMessageBytes else {
                throw SwiftPSError(.resourceExhausted, "message of \(byteCount) bytes exceeds the limit of \(limits.maxMessageBytes)")
            }
            guard envelope.tensors.count <= limits.maxTensors else {
                throw SwiftPSError(.resourceExhausted, "\(envelope.tensors.count) tensors exceed the limit of \(limits.maxTensors)")
            }
            let queued = ledger.queued(route.identity), cap = maxQueuedBytes.load(ordering: .relaxed)
            guard queued.peer <= limits.maxQueuedBytesPerPeer, queued.total <= cap else {
                throw SwiftPSError(.resourceExhausted, queued.peer > limits.maxQueuedBytesPerPeer
                    ? "\(queued.peer >> 20) MiB of your replies are unread (limit \(limits.maxQueuedBytesPerPeer >> 20) MiB): read them first"
                    : "\(queued.total >> 20) MiB of replies are unread by their peers (limit \(cap >> 20) MiB); try again")
            }
            let tensors = try matchTensors(envelope, payloads: frames[2...])
            let peer = frames[1].userID.flatMap(Peer.init(userID:))
            return handler.handle(IncomingRequest(route: route, envelope: envelope, tensors: tensors, byteCount: byteCount,
                                                  peer: peer))
        } catch let error as SwiftPSError {
            handler.refused(error)
            return [OutgoingReply(to: route, error: error)]
        } catch {
            return [OutgoingReply(to: route, error: SwiftPSError(.internal, "\(error)"))]
        }
    }

    private func send(_ reply: OutgoingReply, on socket: ZMQSocket) {
        let envelope = Envelope(requestID: reply.route.requestID, methodRaw: reply.route.method, timeoutMs: 0,
                                status: reply.status, statusMessage: reply.message, body: reply.body,
                                tensors: OutgoingTensor.headers(reply.tensors)).encoded()
        guard reply.route.identity.withUnsafeBytes({ socket.send($0, more: true) }) else { return }
        _ = envelope.withUnsafeBytes { socket.send($0, more: !reply.tensors.isEmpty) }
        for (index, tensor) in reply.tensors.enumerated() {
            var payload = tensor.payload
            if payload.bytes.count >= Payload.zeroCopyThreshold {  // what libzmq holds without copying: counted
                let entry = ReplyLedger.Entry(owner: payload.owner, ledger: ledger, peer: reply.route.identity,
                                              bytes: payload.bytes.count)
                payload = Payload(owner: entry, bytes: payload.bytes)
            }
            _ = socket.send(payload, more: index + 1 < reply.tensors.count)
        }
    }
}

/// Hands the socket and the handler to the server thread, which alone uses them from then on.
/// `@unchecked Sendable`: the creating thread keeps no reference to either.
final class ConfinedHandler: @unchecked Sendable {
    let socket: ZMQSocket
    let handler: any RPCHandler
    init(socket: ZMQSocket, handler: any RPCHandler) {
        self.socket = socket
        self.handler = handler
    }
}
