/// A step's computation, one layer and one micro-batch at a time (in a worker: the MLP on the step's samples).
public protocol LayerCompute: AnyObject {
    var layerCount: Int { get }
    /// Forward through `layer` for micro-batch `micro` of the current step; layers run in order, 0 first.
    func forward(layer: Int, micro: Int)
    /// Backward through `layer` for micro-batch `micro`, last layer first. After the step's last micro-batch the
    /// layer's gradient is final.
    func backward(layer: Int, micro: Int)
}

/// Moves one layer's gradient out and its new values in (in a worker: push-pulls to the servers holding it).
public protocol LayerTransport: AnyObject {
    /// Starts pushing `layer`'s final gradient of `step` and pulling its new values in the same round trip. The
    /// gradient is captured before this returns: the next backward may overwrite it.
    func send(layer: Int, step: Int) throws
    /// Waits for the reply to `layer`'s push of `step` and writes the values into the layer's parameters.
    func receive(layer: Int, step: Int) async throws
}

/// The order of a pipelined worker's work: the one place that decides when a layer computes, when its gradient
/// leaves and when its new values must be in.
///
/// Within a step, micro-batches run forward (layer 0 first) and backward (last layer first), their gradients
/// accumulating. In the last micro-batch's backward a layer's push starts the moment its gradient is final, while the
/// layers below are still computing. The reply carries the layer's new values (the pull rides on the push, so it is
/// issued as early as it can be), and step s's forward takes layer l's values just before it needs them — first
/// layers first — waiting only for the reply to layer l's push of step s − maxInflight. So at most `maxInflight`
/// steps' pushes are ever unacknowledged, and with `maxInflight ≥ 2` communication hides behind the next step's
/// computation. `maxInflight == 0` turns overlap off: every push leaves after the whole backward and every reply is
/// in before the next step (the serial baseline).
public struct PipelineSchedule: Sendable {
    /// Micro-batches per step (all accumulated mini-batches' micro-batches).
    public let microBatches: Int
    public let maxInflight: Int

    public init(microBatches: Int, maxInflight: Int) {
        precondition(microBatches > 0 && maxInflight >= 0, "microBatches \(microBatches), maxInflight \(maxInflight)")
        self.microBatches = microBatches
        self.maxInflight = maxInflight
    }

    /// Runs step `step` (0-based).
    public func run(step: Int, compute: some LayerCompute, transport: some LayerTransport) async throws {
        let layers = compute.layerCount, overlap = maxInflight > 0
        for micro in 0..<microBatches {
            for layer in 0..<layers {
                if overlap && micro == 0 && step >= maxInflight {
                    try await transport.receive(layer: layer, step: step - maxInflight)
                }
                compute.forward(layer: layer, micro: micro)
            }
            for layer in (0..<layers).reversed() {
                compute.backward(layer: layer, micro: micro)
                if overlap && micro == microBatches - 1 { try transport.send(layer: layer, step: step) }
            }
        }
        if !overlap {
            for layer in (0..<layers).reversed() { try transport.send(layer: layer, step: step) }
            for layer in 0..<layers { try await transport.receive(layer: layer, step: step) }
        }
    }

    /// After the last step (`steps` run): takes every reply still outstanding, so the model holds the values that
    /// include all of this worker's pushes.
    public func drain(steps: Int, layers: Int, transport: some LayerTransport) async throws {
        guard maxInflight > 0 else { return }
        for step in max(0, steps - maxInflight)..<steps {
            for layer in 0..<layers { try await transport.receive(layer: layer, step: step) }
        }
    }
}
