internal import CZeroMQ
import Foundation
import Synchronization
import SwiftPSCore

/// Admits CurveZMQ clients by public key: libzmq's ZAP protocol (RFC 27) on `inproc://zeromq.zap.01`, answered on a
/// thread of its own, for every CURVE server socket of its context.
///
/// A known key gets status 200 and the User-Id `role:name`, which libzmq then attaches to every message of that
/// connection (`Peer`); any other key gets 400 and the handshake fails, so an unknown client never reaches a handler.
/// Bound before the server socket is, so no connection is ever accepted without it.
final class ZAPHandler: Sendable {
    static let endpoint = "inproc://zeromq.zap.01"
    private let stopping = Atomic<Bool>(false)
    private let wake = WakeSignal()
    private let exit = ThreadExit()
    /// Refused handshakes, for the log (every few seconds at most).
    private let refusals = Atomic<Int>(0)

    init(context: ZMQContext, clients: [String: Peer], log: Log) throws(SwiftPSError) {
        let socket = try ZMQSocket(context, type: ZMQ_REP)
        do {
            try socket.bind(Self.endpoint)
        } catch {
            throw SwiftPSError(.internal, "a second ZAP handler in one context: \(error.message)")
        }
        let confined = ConfinedSocket(socket)
        let thread = Thread { [self] in run(confined.socket, clients, log) }
        thread.name = "swiftps-zap"
        thread.start()
    }

    func stop() async {
        stopping.store(true, ordering: .releasing)
        wake.signal()
        await exit.wait()
    }

    private func run(_ socket: ZMQSocket, _ clients: [String: Peer], _ log: Log) {
        var items = [pollItem(socket: socket), pollItem(fd: wake.fd)]
        var lastReport: ContinuousClock.Instant?, reported = 0
        while !stopping.load(ordering: .acquiring) {
            _ = poll(&items, timeoutMs: 500)
            if isReadable(items[1]) { wake.drain() }
            while let frames = socket.receiveMessage() {
                let reply = Self.answer(frames.map { $0.withBytes { Array($0) } }, clients)
                if reply[2] != Array("200".utf8) { refusals.add(1, ordering: .relaxed) }
                for (index, frame) in reply.enumerated() {
                    _ = frame.withUnsafeBytes { socket.send($0, more: index + 1 < reply.count) }
                }
            }
            let refused = refusals.load(ordering: .relaxed)
            if refused > reported, lastReport.map({ ContinuousClock.now - $0 > .seconds(5) }) ?? true {
                log.info("refused \(refused - reported) connection(s) whose CURVE key is not in the key directory")
                (reported, lastReport) = (refused, .now)
            }
        }
        exit.finished()
    }

    /// The reply to one ZAP request: version, request id, status code and text, User-Id, metadata.
    static func answer(_ request: [[UInt8]], _ clients: [String: Peer]) -> [[UInt8]] {
        func reply(_ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), request.count > 1 ? request[1] : [], Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard request.count >= 6, request[0] == Array("1.0".utf8) else { return reply("500", "not a ZAP 1.0 request") }
        guard request[5] == Array("CURVE".utf8), request.count == 7,
              let key = request[6].withUnsafeBytes({ CurveKeyPair.z85($0) }) else {
            return reply("400", "only CURVE clients are admitted")
        }
        guard let peer = clients[key] else { return reply("400", "unknown client key") }
        return reply("200", "OK", user: peer.description)
    }
}
