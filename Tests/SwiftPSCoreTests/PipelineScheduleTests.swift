import Testing
import SwiftPSCore

/// The pipeline schedule against a fake model and a fake transport that share a virtual clock: compute costs time
/// units, a push-pull's reply arrives a fixed latency after it was sent, and `receive` waits (moves the clock) until
/// it has. Every event is recorded, so tests read the order and the timing exactly.
final class FakePipeline: LayerCompute, LayerTransport {
    let layerCount: Int
    let computeCost: Int
    /// Per layer, how long after its push the reply arrives.
    let latencies: [Int]
    private(set) var now = 0
    private(set) var events: [String] = []
    /// Sent, not yet received: (layer, step) → the time its reply arrives.
    private(set) var inFlight: [[Int]: Int] = [:]
    /// The most distinct steps ever unacknowledged at once.
    private(set) var mostStepsInFlight = 0
    private(set) var waited = 0

    convenience init(layers: Int, computeCost: Int = 1, latency: Int) {
        self.init(computeCost: computeCost, latencies: Array(repeating: latency, count: layers))
    }

    init(computeCost: Int = 1, latencies: [Int]) {
        layerCount = latencies.count
        self.computeCost = computeCost
        self.latencies = latencies
    }

    func forward(layer: Int, micro: Int) {
        events.append("F\(layer).\(micro)")
        now += computeCost
    }

    func backward(layer: Int, micro: Int) {
        events.append("B\(layer).\(micro)")
        now += computeCost
    }

    func send(layer: Int, step: Int) throws {
        events.append("send\(layer)@\(step)")
        inFlight[[layer, step]] = now + latencies[layer]
        mostStepsInFlight = max(mostStepsInFlight, Set(inFlight.keys.map { $0[1] }).count)
    }

    func receive(layer: Int, step: Int) async throws {
        let reply = inFlight.removeValue(forKey: [layer, step])
        let arrives = try #require(reply, "receive of \(layer)@\(step) never sent")
        events.append("recv\(layer)@\(step)")
        waited += max(0, arrives - now)
        now = max(now, arrives)
    }

    /// Runs `steps` steps and the drain; returns the virtual time taken.
    func run(steps: Int, microBatches: Int = 1, maxInflight: Int) async throws -> Int {
        let schedule = PipelineSchedule(microBatches: microBatches, maxInflight: maxInflight)
        for step in 0..<steps { try await schedule.run(step: step, compute: self, transport: self) }
        try await schedule.drain(steps: steps, layers: layerCount, transport: self)
        #expect(inFlight.isEmpty, "every push is answered by the end")
        return now
    }
}

@Suite struct PipelineScheduleTests {
    /// Two micro-batches, 3 layers: pushes leave during the last micro-batch's backward, top layer first, and
    /// step 1's forward takes each layer's values just before computing it, first layer first.
    @Test func layersLeaveDuringBackwardAndReturnFirstLayersFirst() async throws {
        let fake = FakePipeline(layers: 3, latency: 2)
        _ = try await fake.run(steps: 2, microBatches: 2, maxInflight: 1)
        #expect(fake.events.joined(separator: " ") == [
            "F0.0 F1.0 F2.0 B2.0 B1.0 B0.0",                                  // step 0, micro-batch 0: nothing leaves
            "F0.1 F1.1 F2.1 B2.1 send2@0 B1.1 send1@0 B0.1 send0@0",         // the last micro-batch: each layer leaves
            "recv0@0 F0.0 recv1@0 F1.0 recv2@0 F2.0 B2.0 B1.0 B0.0",         // step 1 takes layer by layer
            "F0.1 F1.1 F2.1 B2.1 send2@1 B1.1 send1@1 B0.1 send0@1",
            "recv0@1 recv1@1 recv2@1",                                        // drain
        ].joined(separator: " "))
    }

    @Test func noOverlapSendsAfterTheWholeBackwardAndWaitsForEveryReply() async throws {
        let fake = FakePipeline(layers: 2, latency: 5)
        let time = try await fake.run(steps: 2, maxInflight: 0)
        #expect(fake.events.joined(separator: " ") ==
                "F0.0 F1.0 B1.0 B0.0 send1@0 send0@0 recv0@0 recv1@0 F0.0 F1.0 B1.0 B0.0 send1@1 send0@1 recv0@1 recv1@1")
        #expect(time == 2 * (4 + 5), "every step pays the full round trip")
    }

    @Test(arguments: [1, 2, 3, 5])
    func neverMoreStepsInFlightThanTheBound(maxInflight: Int) async throws {
        let fake = FakePipeline(layers: 4, latency: 30)  // replies far slower than compute: the bound is what limits
        _ = try await fake.run(steps: 20, microBatches: 3, maxInflight: maxInflight)
        #expect(fake.mostStepsInFlight == maxInflight)
    }

    /// Communication shorter than computation (3 layers: 6 units of compute per step, a 4-unit round trip):
    /// serial pays it every step, maxInflight 2 hides it behind the next step.
    @Test func twoStepsInFlightHideCommunicationShorterThanCompute() async throws {
        let steps = 50, computeOnly = steps * 6
        let serial = try await FakePipeline(layers: 3, latency: 4).run(steps: steps, maxInflight: 0)
        let one = try await FakePipeline(layers: 3, latency: 4).run(steps: steps, maxInflight: 1)
        let two = try await FakePipeline(layers: 3, latency: 4).run(steps: steps, maxInflight: 2)
        #expect(serial == steps * 10)
        #expect(one == serial, "layer 0 leaves last and is needed first: its round trip is the critical path")
        #expect(Double(two) <= 1.15 * Double(computeOnly), "pipelined \(two) vs compute-only \(computeOnly)")
    }

    /// With the slow round trip on the top layer (the largest, say), one step in flight already hides most of it:
    /// its push leaves first and overlaps the backward below and the next forward.
    @Test func oneStepInFlightOverlapsUpperLayersPushes() async throws {
        let steps = 50
        let serial = try await FakePipeline(latencies: [1, 1, 8]).run(steps: steps, maxInflight: 0)
        let one = try await FakePipeline(latencies: [1, 1, 8]).run(steps: steps, maxInflight: 1)
        #expect(serial == steps * (6 + 8))
        #expect(Double(one) < 0.75 * Double(serial), "pipelined \(one) vs serial \(serial)")
    }
}
