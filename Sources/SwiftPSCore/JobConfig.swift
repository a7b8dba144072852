/// Everything a job's processes must agree on; the coordinator owns it and hands it to every node on Register.
///
/// Servers read the parameter space, the optimizer and the consistency model; how workers train is in `plan`, which
/// servers never read.
public struct JobConfig: Sendable, Equatable {
    public var seed: UInt64 = 42
    /// The parameter space: empty until a client declares it, when the coordinator was started without one.
    public var tensors: [TensorSpec] = []
    public var optimizer = OptimizerConfig(kind: .momentum, learningRate: 0.05)
    /// Largest chunk of a tensor on one server (BytePS cuts at 4 MB; the demo's smaller default spreads its layers).
    public var chunkElements = 65_536
    public var servers = 1
    public var workers = 1
    public var heartbeatTimeoutMs = 5_000
    public var allowNonFinite = false
    /// Payload dtype of pushes and pulls on the wire (mixed precision); servers keep fp32 masters.
    public var wireDType = DType.f32
    /// How fresh the weights a worker computes on must be (see `Consistency`).
    public var consistency = Consistency.async
    public var plan = TrainingPlan()

    public init() {}
}

/// How workers train: their model, data, batches and pipelining. Only workers read it.
public struct TrainingPlan: Sendable, Equatable {
    /// The Swift worker's model (`mlp:64,512,512,10`); empty when a client declared the parameter space.
    public var model = ""
    public var batchSize = 64
    /// Gradient accumulation: mini-batches (of `batchSize` each) a worker computes before it pushes once. The push
    /// carries the *mean* of their gradients, so the learning rate keeps its meaning: an effective batch of
    /// `accumulate × batchSize` at an unchanged lr (PyTorch users get the same by dividing the loss by N). At least 1.
    public var accumulate = 1
    /// How workers compress pushes; what is not sent stays in the worker's residual (error feedback).
    public var compression = Compression.none
    /// Data files ("idx:IMAGES,LABELS", "npy:FEATURES,LABELS", "csv:PATH"); empty: the built-in teacher task.
    public var trainData = ""
    public var testData = ""
    public var epochs = 2
    public var trainSamples = 400_000
    public var testSamples = 8_000
    /// Each mini-batch is computed in this many micro-batches of `batchSize / microBatches` samples, whose gradients
    /// accumulate (as a mean, like `accumulate`); the pushed gradient is the mini-batch's, whatever the split.
    public var microBatches = 1
    /// Pipelining: how many steps' pushes may be unacknowledged while the worker computes. Each layer's gradient
    /// leaves as soon as backward has finished it; before step s uses a layer, the reply to that layer's push of
    /// step s − maxInflight must be in. 1: every step computes on the weights its previous push produced (what a
    /// plain loop does) while upper layers' pushes overlap lower layers' backward; 2 or more: the next steps compute
    /// while pushes are in flight, on weights that miss up to maxInflight − 1 of the worker's own updates. 0: no
    /// overlap at all (push and pull after the whole backward), the baseline `bench overlap` compares against.
    public var maxInflight = 1

    public init() {}
}
