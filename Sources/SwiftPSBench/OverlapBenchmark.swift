import Foundation
import SwiftPSCore
import SwiftPSTransport
import SwiftPSServer
import SwiftPSModel
import SwiftPSWorker

/// `swiftps bench overlap`: one worker's step time against a real server on loopback (in this process, on its own
/// socket thread), pipelined (`--max-inflight 2`, and 1), serial (`--max-inflight 0`: push and pull after the whole
/// backward), and with no communication at all — the baseline, measured in the same run.
///
/// The model is chosen so that communication is shorter than computation: a 256-1024-1024-10 MLP (1.3 M floats,
/// 5.3 MB each way per step) on batches of 128.
public enum OverlapBenchmark {
    static let layers = [256, 1024, 1024, 10]
    static let batch = 128

    public static func run(secondsPerRound seconds: Double, json: Bool) async throws {
        MLP.setBLASThreads(1)  // as workers run it
        let report = Report(json: json)
        var job = JobConfig()
        job.plan.model = "mlp:" + layers.map(String.init).joined(separator: ",")
        job.tensors = MLP.tensors(layerSizes: layers)
        job.plan.batchSize = batch
        job.servers = 1
        job.workers = 1
        let data = TeacherTask.make(seed: job.seed, inputs: layers[0], classes: layers.last!, train: 16 * batch, test: 0).train
        let chunks = Placement.chunks(tensors: job.tensors, chunkElements: job.chunkElements, servers: [1])
        let store = ParameterStore(chunks: chunks, tensors: job.tensors, seed: job.seed, optimizer: job.optimizer)
        let context = ZMQContext()
        let server = try RPCServer(context: context, bind: "tcp://127.0.0.1:0", handler: ParameterServerHandler(nodeID: 1, store: store))
        let client = try ParameterServerClient(context: ZMQContext(), endpoint: server.endpoint)
        defer { _ = client }

        func engine(maxInflight: Int) async throws -> StepEngine {
            var config = job
            config.plan.maxInflight = maxInflight
            let engine = StepEngine(job: config, model: MLP(layerSizes: layers, maxBatch: batch), data: data,
                                    chunks: chunks, clients: [1: client])
            try await engine.initialPull()
            _ = try await engine.run(steps: 3, communicate: true)  // warm: buffers, pools, connections
            return engine
        }
        let engines = [2: try await engine(maxInflight: 2), 1: try await engine(maxInflight: 1),
                       0: try await engine(maxInflight: 0)]
        // Steps per round: about `seconds` of computation.
        let probe = try await engines[0]!.run(steps: 3, communicate: false) / 3
        let steps = max(3, Int(seconds / probe))
        report.note("overlap benchmark: \(layers.map(String.init).joined(separator: "-")) MLP, batch \(batch), one worker "
                    + "and one server on loopback, ms per step, median of \(Measure.rounds) rounds of \(steps) steps; "
                    + "baseline: the same steps with no communication; ratio: baseline / step")
        var perStep: [String: Double] = [:]
        for (name, engine, communicate) in [("compute_only", engines[0]!, false), ("pipelined_inflight2", engines[2]!, true),
                                            ("pipelined_inflight1", engines[1]!, true), ("serial", engines[0]!, true)] {
            perStep[name] = try await median { try await engine.run(steps: steps, communicate: communicate) } / Double(steps)
        }
        let computeOnly = perStep["compute_only"]!
        for name in ["pipelined_inflight2", "pipelined_inflight1", "serial"] {
            report.figure("step_\(name)", perStep[name]! * 1e3, "ms", computeOnly * 1e3, higherIsBetter: false)
        }
        await client.close()
        await server.stop()
    }
}
