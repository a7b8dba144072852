import Synchronization

/// A process-wide "please stop" flag that long-running loops check and sleep on.
///
/// Set by the SIGTERM/SIGINT handler (or by a test); every role finishes what is in flight and exits 0.
public final class Shutdown: Sendable {
    private let requested = Atomic<Bool>(false)
    private let actions = Mutex<[@Sendable () -> Void]>([])

    public init() {}

    /// Sets the flag and runs every action registered with `onRequest`, once.
    public func request() {
        guard !requested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for action in actions.withLock({ $0 }) { action() }
    }

    /// Runs `action` when shutdown is requested (at once if it already is): for what must not wait for a loop to
    /// notice the flag, such as calls in flight to a peer that may already be gone.
    public func onRequest(_ action: @escaping @Sendable () -> Void) {
        actions.withLock { $0.append(action) }
        if isRequested { action() }
    }

    public var isRequested: Bool { requested.load(ordering: .acquiring) }

    /// Sleeps for `duration`, waking early when shutdown is requested; returns false if it was.
    public func sleep(for duration: Duration) async -> Bool {
        let end = ContinuousClock.now + duration
        while !isRequested {
            let left = end - ContinuousClock.now
            if left <= .zero { return true }
            try? await Task.sleep(for: min(left, .milliseconds(20)))
        }
        return false
    }
}
