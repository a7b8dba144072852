import ArgumentParser
import SwiftPSCore
import SwiftPSModel
import SwiftPSCoordinator

/// The job's configuration as flags; the coordinator owns it and hands it to every node.
struct JobOptions: ParsableArguments {
    @Option(help: "Parameter servers in the job. (env: SWIFTPS_SERVERS)")
    var servers: Int = env("SWIFTPS_SERVERS", 1)

    @Option(help: "Workers in the job. (env: SWIFTPS_WORKERS)")
    var workers: Int = env("SWIFTPS_WORKERS", 1)

    @Option(help: ArgumentHelp("The model: mlp (Swift workers train it; --layers sizes it) or client (a client declares the parameter space with DeclareTensors and trains it). (env: SWIFTPS_MODEL)",
                               discussion: "--params FILE.json sets the parameter space from a file instead; see docs/protocol.md."))
    var model: String = env("SWIFTPS_MODEL", "mlp")

    @Option(help: "Layer sizes of the mlp model: input, hidden..., classes. (env: SWIFTPS_LAYERS)")
    var layers: String = env("SWIFTPS_LAYERS", "64,512,512,10")

    @Option(help: "The parameter space as JSON ({\"tensors\": [{\"name\", \"shape\", \"init\", ...}]}), for a model that clients train. (env: SWIFTPS_PARAMS)")
    var params: String = env("SWIFTPS_PARAMS", "")

    @Option(help: "sgd, momentum or adam. (env: SWIFTPS_OPTIMIZER)")
    var optimizer: String = env("SWIFTPS_OPTIMIZER", "momentum")

    @Option(name: .customLong("lr"), help: "Learning rate. (env: SWIFTPS_LR)")
    var learningRate: Float = env("SWIFTPS_LR", 0.05)

    @Option(help: "Momentum coefficient (momentum optimizer). (env: SWIFTPS_MOMENTUM)")
    var momentum: Float = env("SWIFTPS_MOMENTUM", 0.9)

    @Option(help: "L2 weight decay added to gradients. (env: SWIFTPS_WEIGHT_DECAY)")
    var weightDecay: Float = env("SWIFTPS_WEIGHT_DECAY", 0)

    @Option(help: "Samples per mini-batch. (env: SWIFTPS_BATCH_SIZE)")
    var batchSize: Int = env("SWIFTPS_BATCH_SIZE", 64)

    @Option(help: ArgumentHelp(
        "Mini-batches per push (gradient accumulation); the push carries their mean gradient. (env: SWIFTPS_ACCUMULATE)",
        discussion: "The mean, not the sum: --lr keeps its meaning, for an effective batch of N × --batch-size, as when PyTorch users divide the loss by N. Mini-batches left over at the end of an epoch are skipped."))
    var accumulate: Int = env("SWIFTPS_ACCUMULATE", 1)

    @Option(help: "Micro-batches per mini-batch; their gradients accumulate into the mini-batch's, so the result is the same, in smaller pieces. Must divide --batch-size. (env: SWIFTPS_MICRO_BATCHES)")
    var microBatches: Int = env("SWIFTPS_MICRO_BATCHES", 1)

    @Option(help: ArgumentHelp(
        "Steps whose pushes may be unacknowledged while a worker computes (pipelining). (env: SWIFTPS_MAX_INFLIGHT)",
        discussion: "Each layer's gradient leaves as soon as backward has finished it, and the reply (its new values) is taken just before the next forward needs the layer. 1: every step computes on the weights its previous push produced, with upper layers' pushes overlapping lower layers' backward. 2 or more: the next steps compute while pushes are in flight, on weights missing up to N-1 of the worker's own updates; not allowed with bsp. 0: no overlap (push and pull after the whole backward)."))
    var maxInflight: Int = env("SWIFTPS_MAX_INFLIGHT", 1)

    @Option(help: "Passes over the training set. (env: SWIFTPS_EPOCHS)")
    var epochs: Int = env("SWIFTPS_EPOCHS", 2)

    @Option(help: "Training samples of the built-in task. (env: SWIFTPS_TRAIN_SAMPLES)")
    var trainSamples: Int = env("SWIFTPS_TRAIN_SAMPLES", 400_000)

    @Option(help: "Held-out samples of the built-in task. (env: SWIFTPS_TEST_SAMPLES)")
    var testSamples: Int = env("SWIFTPS_TEST_SAMPLES", 8_000)

    @Option(help: "Seed of the data, the order and the initial model. (env: SWIFTPS_SEED)")
    var seed: UInt64 = env("SWIFTPS_SEED", 42)

    @Option(help: "Largest piece of a tensor held by one server, in floats. (env: SWIFTPS_CHUNK_ELEMENTS)")
    var chunkElements: Int = env("SWIFTPS_CHUNK_ELEMENTS", 65_536)

    @Option(help: "Milliseconds without a heartbeat before a node is dropped. (env: SWIFTPS_HEARTBEAT_TIMEOUT_MS)")
    var heartbeatTimeoutMs: Int = env("SWIFTPS_HEARTBEAT_TIMEOUT_MS", 5_000)

    @Option(help: "Training data instead of the built-in task: idx:IMAGES,LABELS | npy:FEATURES,LABELS | csv:PATH (label last); each worker reads its own part. (env: SWIFTPS_TRAIN_DATA)")
    var trainData: String = env("SWIFTPS_TRAIN_DATA", "")

    @Option(help: "Held-out data, same forms; required with --train-data. (env: SWIFTPS_TEST_DATA)")
    var testData: String = env("SWIFTPS_TEST_DATA", "")

    @Option(help: "Push compression: none, int8 (a scale per chunk) or topk:FRACTION; what is not sent is kept and added to the next gradient (error feedback). (env: SWIFTPS_COMPRESS)")
    var compress: String = env("SWIFTPS_COMPRESS", "none")

    @Option(help: "Payload dtype on the wire: f32, bf16 or f16; servers keep fp32 masters. (env: SWIFTPS_WIRE_DTYPE)")
    var wireDtype: String = env("SWIFTPS_WIRE_DTYPE", "f32")

    @Option(help: ArgumentHelp("How fresh the weights a worker computes on must be: async, bsp or ssp:S. (env: SWIFTPS_CONSISTENCY)",
                               discussion: "async applies every push on arrival and answers at once. bsp sums the pushes of every live worker for a clock in rank order, applies the sum once, then answers (bit-identical runs). ssp:S applies on arrival but makes a worker wait while the slowest worker is more than S clocks behind."))
    var consistency: String = env("SWIFTPS_CONSISTENCY", "async")

    @Flag(help: "Apply NaN/Inf gradients, and updates that overflow fp32, instead of refusing them. (env: SWIFTPS_ALLOW_NONFINITE=1)")
    var allowNonfinite: Bool = env("SWIFTPS_ALLOW_NONFINITE", 0) != 0

    func validate() throws {
        _ = try job()
    }

    /// Counts travel in the job config as 32-bit fields.
    static let maxWireCount = Int(UInt32.max)
    /// A worker's whole model, and the built-in task's samples, in floats: 8 GiB of fp32.
    static let maxFloats = 1 << 31
    static let maxLayerSize = 1 << 24
    static let maxChunks = CoordinatorHandler.maxChunks

    /// The parameter space and the Swift workers' model: from --params, none (--model client: a client declares
    /// it), or the MLP preset sized by --layers.
    func space() throws -> (tensors: [TensorSpec], model: String) {
        if !params.isEmpty {
            guard model == "mlp" || model == "client" else {
                throw ValidationError("--model must be mlp or client (got '\(model)')")
            }
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: params))
            } catch {
                throw ValidationError("--params \(params): cannot read it (\(error.localizedDescription))")
            }
            do {
                return (try TensorSpec.space(json: data), "")
            } catch {
                throw ValidationError("--params \(params): \(error.message)")
            }
        }
        switch model {
        case "client": return ([], "")
        case "mlp": break
        default: throw ValidationError("--model must be mlp or client (got '\(model)')")
        }
        let sizes = layers.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard sizes.count >= 2, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--layers needs at least two positive sizes, e.g. 64,512,10 (got '\(layers)')")
        }
        let layerSizes = sizes.map { $0! }
        guard layerSizes.last! >= 2 else { throw ValidationError("--layers: the last size is the class count, at least 2") }
        let tensors = MLP.tensors(layerSizes: layerSizes)
        guard layerSizes.allSatisfy({ $0 <= Self.maxLayerSize }),
              case let parameters = tensors.reduce(0, { $0 + $1.count }), parameters <= Self.maxFloats else {
            throw ValidationError("--layers '\(layers)' is too big: every worker holds the whole model, so at most "
                                  + "\(Self.maxFloats) parameters (8 GiB of fp32), each size at most \(Self.maxLayerSize)")
        }
        return (tensors, "mlp:" + layerSizes.map(String.init).joined(separator: ","))
    }

    /// The configuration, checked.
    func job() throws -> JobConfig {
        var job = JobConfig()
        (job.tensors, job.plan.model) = try space()
        guard let kind = ["sgd": OptimizerConfig.Kind.sgd, "momentum": .momentum, "adam": .adam][optimizer.lowercased()] else {
            throw ValidationError("--optimizer must be sgd, momentum or adam (got '\(optimizer)')")
        }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--lr must be positive") }
        guard weightDecay >= 0 else { throw ValidationError("--weight-decay must not be negative") }
        job.optimizer = OptimizerConfig(kind: kind, learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
        for (name, value) in [("--servers", servers), ("--workers", workers), ("--batch-size", batchSize),
                              ("--accumulate", accumulate),
                              ("--epochs", epochs), ("--chunk-elements", chunkElements),
                              ("--heartbeat-timeout-ms", heartbeatTimeoutMs), ("--test-samples", testSamples),
                              ("--train-samples", trainSamples)] {
            guard value > 0 else { throw ValidationError("\(name) must be positive (got \(value))") }
            guard value <= Self.maxWireCount else { throw ValidationError("\(name) must be at most \(Self.maxWireCount) (got \(value))") }
        }
        let (perWorker, overflow) = batchSize.multipliedReportingOverflow(by: accumulate)
        let (needed, overflowAgain) = perWorker.multipliedReportingOverflow(by: workers)
        guard !overflow, !overflowAgain, trainSamples >= needed else {
            throw ValidationError("--train-samples (\(trainSamples)) must give every worker at least one push of \(accumulate) batches of \(batchSize)")
        }
        job.servers = servers
        job.workers = workers
        job.plan.batchSize = batchSize
        job.plan.accumulate = accumulate
        job.plan.epochs = epochs
        job.plan.trainSamples = trainSamples
        job.plan.testSamples = testSamples
        job.seed = seed
        job.chunkElements = chunkElements
        job.heartbeatTimeoutMs = heartbeatTimeoutMs
        job.allowNonFinite = allowNonfinite
        guard let compression = Compression(parsing: compress) else {
            throw ValidationError("--compress must be none, int8 or topk:FRACTION with 0 < FRACTION <= 1 (got '\(compress)')")
        }
        job.plan.compression = compression
        guard trainData.isEmpty == testData.isEmpty else {
            throw ValidationError("--train-data and --test-data go together")
        }
        for spec in [trainData, testData] where !spec.isEmpty && DataSpec(spec) == nil {
            throw ValidationError("'\(spec)' is not idx:IMAGES,LABELS, npy:FEATURES,LABELS or csv:PATH")
        }
        (job.plan.trainData, job.plan.testData) = (trainData, testData)
        if trainData.isEmpty, !job.plan.model.isEmpty {  // the built-in task is generated whole (in memory)
            let inputs = try Models.dataShape(job.plan.model).inputs
            let floats = (trainSamples + testSamples) * inputs
            guard floats <= Self.maxFloats else {
                throw ValidationError("the built-in task's samples come to \(floats) floats with \(inputs) inputs; "
                                      + "at most \(Self.maxFloats) (8 GiB): lower --train-samples or --test-samples")
            }
        }
        let chunks = job.tensors.reduce(0) { $0 + ($1.count + chunkElements - 1) / chunkElements }
        guard chunks <= Self.maxChunks else {
            throw ValidationError("--chunk-elements \(chunkElements) cuts the model into \(chunks) chunks; at most \(Self.maxChunks)")
        }
        guard let dtype = DType.dense.first(where: { $0.description == wireDtype.lowercased() }) else {
            throw ValidationError("--wire-dtype must be f32, bf16 or f16 (got '\(wireDtype)')")
        }
        job.wireDType = dtype
        guard let model = Consistency(parsing: consistency) else {
            throw ValidationError("--consistency must be async, bsp or ssp:S with S >= 0 (got '\(consistency)')")
        }
        job.consistency = model
        guard microBatches > 0, batchSize % microBatches == 0 else {
            throw ValidationError("--micro-batches must be positive and divide --batch-size \(batchSize) (got \(microBatches))")
        }
        job.plan.microBatches = microBatches
        guard (0...Self.maxWireCount).contains(maxInflight) else {
            throw ValidationError("--max-inflight must be from 0 to \(Self.maxWireCount) (got \(maxInflight))")
        }
        guard maxInflight <= 1 || model != .bsp else {
            throw ValidationError("--max-inflight \(maxInflight) computes on weights older than the last round: bsp allows at most 1")
        }
        job.plan.maxInflight = maxInflight
        return job
    }

    /// The same options as arguments, for starting child processes.
    var arguments: [String] {
        ["--servers", "\(servers)", "--workers", "\(workers)", "--model", model, "--layers", layers, "--params", params,
         "--optimizer", optimizer,
         "--lr", "\(learningRate)", "--momentum", "\(momentum)", "--weight-decay", "\(weightDecay)",
         "--batch-size", "\(batchSize)", "--accumulate", "\(accumulate)",
         "--micro-batches", "\(microBatches)", "--max-inflight", "\(maxInflight)",
         "--epochs", "\(epochs)", "--train-samples", "\(trainSamples)",
         "--test-samples", "\(testSamples)", "--seed", "\(seed)", "--chunk-elements", "\(chunkElements)",
         "--heartbeat-timeout-ms", "\(heartbeatTimeoutMs)", "--wire-dtype", wireDtype, "--compress", compress,
         "--train-data", trainData, "--test-data", testData, "--consistency", consistency]
            + (allowNonfinite ? ["--allow-nonfinite"] : [])
    }
}

import Foundation
