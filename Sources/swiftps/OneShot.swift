import Synchronization

/// A value set once by one thread (a child's exit status, its `listening` line) and awaited by tasks, with or
/// without a time limit; waiters are resumed by `set`, not by polling.
final class OneShot<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [Int: CheckedContinuation<Value?, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    /// Sets the value (the first call wins) and resumes every waiter.
    func set(_ value: Value) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value?, Never>] in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// The value if set, without waiting.
    var current: Value? { state.withLock { $0.value } }

    /// The value once set.
    func value() async -> Value {
        await value(timeout: nil)!
    }

    /// The value, or nil if it is not set within `timeout`.
    func value(timeout: Duration?) async -> Value? {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        let timer = timeout.map { limit in
            Task { [self] in
                try? await Task.sleep(for: limit)
                state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: nil)
            }
        }
        defer { timer?.cancel() }
        return await withCheckedContinuation { continuation in
            let ready: Value?? = state.withLock { state in
                if let value = state.value { return .some(value) }
                state.waiters[id] = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
