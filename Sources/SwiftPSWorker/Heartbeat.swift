import Synchronization
import SwiftPSCore
import SwiftPSWire
import SwiftPSCoordinator

/// Tells the coordinator, in the background, that this worker is alive and how far it has got.
final class Heartbeat: Sendable {
    private let coordinator: CoordinatorClient
    private let nodeID: UInt32
    private let interval: Duration
    private let progress = Mutex<(clock: UInt64, rate: Double)>((0, 0))
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(coordinator: CoordinatorClient, nodeID: UInt32, interval: Duration) {
        self.coordinator = coordinator
        self.nodeID = nodeID
        self.interval = interval
    }

    func update(clock: UInt64, samplesPerSecond: Double) {
        progress.withLock { $0 = (clock, samplesPerSecond) }
    }

    func start() {
        let beat = Task { [self] in
            while !Task.isCancelled {
                let (clock, rate) = progress.withLock { $0 }
                _ = try? await coordinator.heartbeat(HeartbeatRequest(nodeID: nodeID, clock: clock, samplesPerSecond: rate))
                try? await Task.sleep(for: interval)
            }
        }
        task.withLock { $0 = beat }
    }

    func stop() {
        task.withLock { $0?.cancel() }
    }
}
