internal import CZeroMQ
import SwiftPSCore

/// A ZeroMQ context: thread-safe (libzmq's contract), shared by every socket of a process.
public final class ZMQContext: Sendable {
    /// `zmq_ctx_*` calls are thread-safe; the pointer itself never changes.
    nonisolated(unsafe) let handle: UnsafeMutableRawPointer

    /// - Parameter ioThreads: libzmq's I/O threads, which do the CurveZMQ crypto; each connection stays on one of
    ///   them. Default: `SWIFTPS_IO_THREADS` from the environment, else 1.
    public init(ioThreads: Int = ZMQContext.defaultIOThreads) {
        handle = zmq_ctx_new()
        zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(ioThreads))
    }

    /// `SWIFTPS_IO_THREADS` (1 to 64), else 1.
    public static let defaultIOThreads: Int = {
        guard let text = getenv("SWIFTPS_IO_THREADS").map({ String(cString: $0) }), let value = Int(text),
              (1...64).contains(value) else { return 1 }
        return value
    }()

    deinit { zmq_ctx_term(handle) }
}

/// The last libzmq error as a SwiftPSError.
func zmqError(_ what: String, code: StatusCode = .internal) -> SwiftPSError {
    let errno = zmq_errno()
    return SwiftPSError(code, "\(what): \(String(cString: zmq_strerror(errno)))")
}

/// One ZeroMQ socket. Not thread-safe: it is created on one thread and then used only by the thread that runs its
/// poll loop (thread creation is the full memory barrier libzmq asks for when a socket changes thread).
final class ZMQSocket {
    let handle: UnsafeMutableRawPointer
    /// Kept so that the context, whose `zmq_ctx_term` waits for every socket, outlives this one.
    private let context: ZMQContext

    /// - Parameter lingerMs: how long closing may wait to flush what is queued (replies the peer still needs).
    init(_ context: ZMQContext, type: Int32, lingerMs: Int32 = 0) throws(SwiftPSError) {
        guard let handle = zmq_socket(context.handle, type) else { throw zmqError("zmq_socket") }
        self.handle = handle
        self.context = context
        try set(ZMQ_LINGER, lingerMs)
    }

    deinit { zmq_close(handle) }

    func set(_ option: Int32, _ value: Int32) throws(SwiftPSError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else { throw zmqError("zmq_setsockopt(\(option))") }
    }

    func set(_ option: Int32, _ value: Int64) throws(SwiftPSError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int64>.size) == 0 else { throw zmqError("zmq_setsockopt(\(option))") }
    }

    /// A string option, NUL-terminated as libzmq reads Z85 keys.
    func set(_ option: Int32, _ value: String) throws(SwiftPSError) {
        let text = value.utf8CString
        guard text.withUnsafeBytes({ zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }) == 0 else {
            throw zmqError("zmq_setsockopt(\(option))")
        }
    }

    /// Makes this a CurveZMQ server with `keyPair`; clients are admitted by the context's ZAP handler.
    func serveCurve(_ keyPair: CurveKeyPair) throws(SwiftPSError) {
        try set(ZMQ_CURVE_SERVER, Int32(1))
        try set(ZMQ_CURVE_SECRETKEY, keyPair.secretKey)
        try set(ZMQ_ZAP_DOMAIN, "swiftps")
    }

    /// Makes this a CurveZMQ client of the server whose public key is `serverKey`.
    func connectCurve(serverKey: String, keyPair: CurveKeyPair) throws(SwiftPSError) {
        try set(ZMQ_CURVE_SERVERKEY, serverKey)
        try set(ZMQ_CURVE_PUBLICKEY, keyPair.publicKey)
        try set(ZMQ_CURVE_SECRETKEY, keyPair.secretKey)
    }

    func bind(_ endpoint: String) throws(SwiftPSError) {
        guard zmq_bind(handle, endpoint) == 0 else { throw zmqError("cannot bind \(endpoint)", code: .unavailable) }
    }

    func connect(_ endpoint: String) throws(SwiftPSError) {
        guard zmq_connect(handle, endpoint) == 0 else { throw zmqError("cannot connect to \(endpoint)", code: .invalidArgument) }
    }

    /// The endpoint actually bound (with the real port when bound to port 0).
    var lastEndpoint: String {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size)
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Sends a copy of `bytes` as one frame.
    func send(_ bytes: UnsafeRawBufferPointer, more: Bool) -> Bool {
        let flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)
        while true {
            if zmq_send(handle, bytes.baseAddress, bytes.count, flags) >= 0 { return true }
            if zmq_errno() != EINTR { return false }
        }
    }

    /// Sends a payload as one frame; large payloads go without copying, and stay retained until libzmq is done.
    func send(_ payload: Payload, more: Bool) -> Bool {
        if payload.bytes.count < Payload.zeroCopyThreshold {
            return send(payload.bytes, more: more)
        }
        var message = zmq_msg_t()
        let hint = Unmanaged.passRetained(payload.owner).toOpaque()
        let data = UnsafeMutableRawPointer(mutating: payload.bytes.baseAddress!)
        guard zmq_msg_init_data(&message, data, payload.bytes.count, releaseOwner, hint) == 0 else {
            Unmanaged<AnyObject>.fromOpaque(hint).release()
            return false
        }
        let flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)
        while true {
            if zmq_msg_send(&message, handle, flags) >= 0 { return true }
            if zmq_errno() != EINTR {
                zmq_msg_close(&message)  // runs releaseOwner
                return false
            }
        }
    }

    /// Receives every frame of one message without waiting; nil when none is queued.
    func receiveMessage() -> [Frame]? {
        var frames: [Frame] = []
        while true {
            let frame = Frame()
            let flags = frames.isEmpty ? ZMQ_DONTWAIT : 0
            if zmq_msg_recv(frame.message, handle, flags) < 0 {
                if zmq_errno() == EINTR { continue }
                return frames.isEmpty ? nil : frames
            }
            frames.append(frame)
            if zmq_msg_more(frame.message) == 0 { return frames }
        }
    }
}

/// libzmq calls this, from its I/O thread, when it no longer needs a zero-copy payload.
private let releaseOwner: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { _, hint in
    if let hint { Unmanaged<AnyObject>.fromOpaque(hint).release() }
}

/// A received frame, read in place: the bytes live in libzmq's message until the frame goes away.
///
/// `@unchecked Sendable`: immutable once received; `zmq_msg_close` in deinit is safe from any thread for a message
/// that no socket holds.
public final class Frame: @unchecked Sendable {
    let message: UnsafeMutablePointer<zmq_msg_t>

    init() {
        message = .allocate(capacity: 1)
        zmq_msg_init(message)
    }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
    }

    /// The bytes, valid only while this frame is alive: prefer `withBytes`, which guarantees that.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message))
    }

    /// Lends the bytes, keeping the frame alive for the call (ARC may otherwise end it at its last use).
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(bytes) }
    }

    public var count: Int { zmq_msg_size(message) }

    /// The User-Id the ZAP handler gave the connection this frame came in on; nil on an open socket.
    var userID: String? { zmq_msg_gets(message, "User-Id").map { String(cString: $0) } }
}

/// An eventfd that wakes a thread blocked in `zmq_poll` (for sends queued by other threads, and for shutdown).
final class WakeSignal: Sendable {
    let fd: Int32

    init() { fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
    deinit { close(fd) }

    func signal() {
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    func drain() {
        var value: UInt64 = 0
        _ = read(fd, &value, 8)
    }
}

/// Waits up to `timeoutMs` for any of the items; returns false when interrupted.
func poll(_ items: inout [zmq_pollitem_t], timeoutMs: Int) -> Bool {
    items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), timeoutMs) >= 0 }
}

func pollItem(socket: ZMQSocket) -> zmq_pollitem_t {
    zmq_pollitem_t(socket: socket.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
}

func pollItem(fd: Int32) -> zmq_pollitem_t {
    zmq_pollitem_t(socket: nil, fd: fd, events: Int16(ZMQ_POLLIN), revents: 0)
}

func isReadable(_ item: zmq_pollitem_t) -> Bool { item.revents & Int16(ZMQ_POLLIN) != 0 }

let zmqDealer = ZMQ_DEALER
let zmqRouter = ZMQ_ROUTER
let zmqMaxMessageSize = ZMQ_MAXMSGSIZE
let zmqSendHighWater = ZMQ_SNDHWM
let zmqReceiveHighWater = ZMQ_RCVHWM

#if canImport(Glibc)
import Glibc
#endif
