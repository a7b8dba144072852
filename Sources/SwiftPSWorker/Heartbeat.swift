import Synchronization
import SwiftPSCore
import SwiftPSWire
import SwiftPSCoordinator

/// Tells the coordinator, in the background, that this worker is alive and how far it has got; gives up (and says
/// why, once, through `onLost`) when the coordinator has dropped this worker or has not answered for `giveUp`.
final class Heartbeat: Sendable {
    private let coordinator: CoordinatorClient
    private let nodeID: UInt32
    private let interval: Duration
    private let giveUp: Duration
    private let onLost: @Sendable (SwiftPSError) -> Void
    private let progress = Mutex<(clock: UInt64, rate: Double)>((0, 0))
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(coordinator: CoordinatorClient, nodeID: UInt32, interval: Duration, giveUp: Duration,
         onLost: @escaping @Sendable (SwiftPSError) -> Void) {
        self.coordinator = coordinator
        self.nodeID = nodeID
        self.interval = interval
        self.giveUp = giveUp
        self.onLost = onLost
    }

    func update(clock: UInt64, samplesPerSecond: Double) {
        progress.withLock { $0 = (clock, samplesPerSecond) }
    }

    func start() {
        let beat = Task { [self] in
            var lastAnswer = ContinuousClock.now
            while !Task.isCancelled {
                let (clock, rate) = progress.withLock { $0 }
                do {
                    _ = try await coordinator.heartbeat(HeartbeatRequest(nodeID: nodeID, clock: clock, samplesPerSecond: rate))
                    lastAnswer = .now
                } catch let error as SwiftPSError where error.code == .failedPrecondition || error.code == .notFound {
                    return onLost(SwiftPSError(.aborted, "the coordinator dropped this worker: \(error.message)"))
                } catch let error as SwiftPSError where error.code == .cancelled {
                    return  // the client was closed: the worker is stopping anyway
                } catch {
                    if ContinuousClock.now - lastAnswer > giveUp {
                        return onLost(SwiftPSError(.unavailable, "no answer from the coordinator at \(coordinator.endpoint) for \(giveUp)"))
                    }
                }
                try? await Task.sleep(for: interval)
            }
        }
        task.withLock { $0 = beat }
    }

    func stop() {
        task.withLock { $0?.cancel() }
    }
}
