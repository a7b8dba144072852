import Synchronization

/// A process-wide "please stop" flag that long-running loops check and sleep on.
///
/// Set by the SIGTERM/SIGINT handler (or by a test); every role finishes what is in flight and exits 0.
public final class Shutdown: Sendable {
    private let requested = Atomic<Bool>(false)

    public init() {}

    public func request() { requested.store(true, ordering: .releasing) }

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

extension Duration {
    /// Whole milliseconds, rounded down.
    public var milliseconds: Int {
        Int(components.seconds) * 1000 + Int(components.attoseconds / 1_000_000_000_000_000)
    }
}
