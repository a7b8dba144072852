import Synchronization

/// Bytes of reply payloads that libzmq still holds, per peer and in all: added when a reply is queued, taken back
/// when libzmq releases the payload (sent, or dropped with its peer).
///
/// A peer that sends requests but never reads its replies makes libzmq keep every reply, and each reply keeps the
/// weights it was cut from (a push then writes a new buffer): the ledger lets the server refuse such a peer before
/// it pins the server's memory. Payloads below `Payload.zeroCopyThreshold` are copied by libzmq and not counted; the
/// socket's high-water mark bounds how many of those are queued.
final class ReplyLedger: Sendable {
    private let state = Mutex<(byPeer: [[UInt8]: Int], total: Int)>(([:], 0))

    func add(_ peer: [UInt8], _ bytes: Int) {
        state.withLock { state in
            state.byPeer[peer, default: 0] += bytes
            state.total += bytes
        }
    }

    func release(_ peer: [UInt8], _ bytes: Int) {
        state.withLock { state in
            let left = (state.byPeer[peer] ?? 0) - bytes
            state.byPeer[peer] = left > 0 ? left : nil
            state.total -= bytes
        }
    }

    /// What `peer`'s queued replies hold, and what all peers' do.
    func queued(_ peer: [UInt8]) -> (peer: Int, total: Int) {
        state.withLock { (($0.byPeer[peer] ?? 0), $0.total) }
    }

    /// A payload's owner that gives its bytes back to the ledger when libzmq lets go of it.
    /// `@unchecked Sendable`: `owner` is only kept alive, never used, by the thread that drops the entry.
    final class Entry: @unchecked Sendable {
        let owner: AnyObject
        let ledger: ReplyLedger
        let peer: [UInt8]
        let bytes: Int

        init(owner: AnyObject, ledger: ReplyLedger, peer: [UInt8], bytes: Int) {
            self.owner = owner
            self.ledger = ledger
            self.peer = peer
            self.bytes = bytes
            ledger.add(peer, bytes)
        }

        deinit { ledger.release(peer, bytes) }
    }
}
