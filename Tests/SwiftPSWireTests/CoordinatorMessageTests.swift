import Testing
import SwiftPSCore
import SwiftPSWire

/// `encoded()` then `init(decoding:)` gives back the same value.
func roundTrip<M: WireMessage & Equatable>(_ message: M) throws -> M {
    try M(decoding: message.encoded())
}

@Suite struct CoordinatorMessageTests {
    /// A job with every field away from its default, so that a field the codec forgets shows.
    static var fullJob: JobConfig {
        var job = JobConfig()
        job.seed = 0xDEAD_BEEF_CAFE_F00D
        job.tensors = [TensorSpec(name: "layers.0.weight", shape: [784, 300], initializer: .heNormal),
                       TensorSpec(name: "layers.0.bias", shape: [300], weightDecay: false),
                       TensorSpec(name: "gain", shape: [3, 1, 5], initializer: .constant(1.5), lrScale: 0.25,
                                  frozen: true),
                       TensorSpec(name: "table", shape: [7, 2], initializer: .xavierUniform, fanIn: 3, fanOut: 4),
                       TensorSpec(name: "pushed", shape: [1], initializer: .pushed)]
        job.optimizer = OptimizerConfig(kind: .adam, learningRate: 0.003, momentum: 0.8, beta1: 0.85, beta2: 0.995,
                                        epsilon: 1e-6, weightDecay: 0.0005)
        job.chunkElements = 4096
        job.servers = 3
        job.workers = 5
        job.plan.model = "mlp:784,300,10"
        job.plan.batchSize = 128
        job.plan.epochs = 7
        job.plan.trainSamples = 60_000
        job.plan.testSamples = 10_000
        job.plan.compression = .topK(fraction: 0.25)
        job.plan.trainData = "npy:a.npy,b.npy"
        job.plan.testData = "csv:t.csv"
        job.plan.microBatches = 4
        job.plan.maxInflight = 3
        job.consistency = .ssp(staleness: 2)
        job.heartbeatTimeoutMs = 1234
        job.allowNonFinite = true
        return job
    }

    static let nodes = [
        NodeInfo(id: 1, role: .server, address: "tcp://10.0.0.5:7001", state: .alive, clock: 17,
                 millisSinceHeartbeat: 250, samplesPerSecond: 1234.5, rank: 0),
        NodeInfo(id: 2, role: .worker, address: "", state: .finished, clock: 1 << 40, millisSinceHeartbeat: 0,
                 samplesPerSecond: 0.25, rank: 1),
        NodeInfo(id: 7, role: .worker, address: "", state: .dead, clock: 3, millisSinceHeartbeat: 9000, rank: 0),
    ]

    @Test func register() throws {
        let request = RegisterRequest(role: .server, address: "tcp://host:1", instance: "5E2B-instance")
        #expect(try roundTrip(request) == request)
        let worker = RegisterRequest(role: .worker, address: "", instance: "")
        #expect(try roundTrip(worker) == worker)
        let reply = RegisterReply(nodeID: 42, rank: 3, job: Self.fullJob)
        #expect(try roundTrip(reply) == reply)
        #expect(try roundTrip(reply).job.optimizer.weightDecay == 0.0005)
    }

    @Test(arguments: OptimizerConfig.Kind.allCases)
    func everyOptimizerKind(kind: OptimizerConfig.Kind) throws {
        var job = Self.fullJob
        job.optimizer.kind = kind
        #expect(try roundTrip(RegisterReply(nodeID: 1, rank: 0, job: job)).job == job)
    }

    @Test func defaultJobRoundTrips() throws {
        #expect(try roundTrip(RegisterReply(nodeID: 1, rank: 0, job: JobConfig())).job == JobConfig())
    }

    @Test func heartbeat() throws {
        let request = HeartbeatRequest(nodeID: 9, clock: UInt64.max, samplesPerSecond: 98765.4321)
        #expect(try roundTrip(request) == request)
        #expect(try roundTrip(HeartbeatReply(jobFinished: true)) == HeartbeatReply(jobFinished: true))
        #expect(try roundTrip(HeartbeatReply(jobFinished: false)) == HeartbeatReply(jobFinished: false))
    }

    @Test func shardMap() throws {
        let params = [TensorSpec(name: "layers.0.weight", shape: [6, 5], initializer: .heNormal),
                      TensorSpec(name: "b", shape: [5], initializer: .uniform(low: -0.5, high: 0.25), lrScale: 0.5,
                                 weightDecay: false),
                      TensorSpec(name: "emb", shape: [2, 2, 3], initializer: .normal(std: 0.02), fanIn: 7, fanOut: 9,
                                 frozen: true),
                      TensorSpec(name: "t", shape: [1], initializer: .pushed)]
        let chunks = Placement.chunks(tensors: params, chunkElements: 4, servers: [1, 8])
        let map = ShardMap(ready: true, servers: Array(Self.nodes.prefix(1)) + [NodeInfo(id: 8, role: .server,
                           address: "tcp://10.0.0.6:7002", rank: 1)], tensors: params, chunks: chunks)
        let decoded = try roundTrip(map)
        #expect(decoded == map)
        #expect(decoded.chunks.count == 8 + 2 + 3 + 1 && decoded.tensors.map(\.count) == [30, 5, 12, 1])
        #expect(try roundTrip(ShardMap(ready: false)) == ShardMap(ready: false))
    }

    @Test func barrierFinishAndStatus() throws {
        #expect(try roundTrip(BarrierRequest(name: "epoch-3", nodeID: 4)) == BarrierRequest(name: "epoch-3", nodeID: 4))
        #expect(try roundTrip(BarrierReply(participants: 2)) == BarrierReply(participants: 2))
        #expect(try roundTrip(FinishRequest(nodeID: 77)) == FinishRequest(nodeID: 77))
        let status = ClusterStatusReply(nodes: Self.nodes, jobFinished: true)
        #expect(try roundTrip(status) == status)
        #expect(try roundTrip(ClusterStatusReply(nodes: [], jobFinished: false)).nodes.isEmpty)
    }
}
