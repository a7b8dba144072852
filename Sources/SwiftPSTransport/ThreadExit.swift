import Synchronization

/// Lets async code wait for a socket thread to finish its loop.
final class ThreadExit: Sendable {
    /// nil once the thread has finished; until then, who waits.
    private let waiters = Mutex<[CheckedContinuation<Void, Never>]?>([])

    /// Called by the thread as its last act.
    func finished() {
        let waiting = waiters.withLock { waiters in
            defer { waiters = nil }
            return waiters ?? []
        }
        for waiter in waiting { waiter.resume() }
    }

    /// Returns once `finished()` has been called (at once if it already has).
    func wait() async {
        await withCheckedContinuation { continuation in
            let done = waiters.withLock { waiters -> Bool in
                guard waiters != nil else { return true }
                waiters!.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}
