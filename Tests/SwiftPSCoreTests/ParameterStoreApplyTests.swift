import Testing
import SwiftPSCore

@Suite struct ParameterStoreApplyTests {
    static let params = [TensorSpec(name: "w", shape: [5], initializer: .heNormal, fanIn: 5), TensorSpec(name: "b", shape: [3])]
    /// Chunks of 2: w → (0,0) 2, (0,1) 2, (0,2) 1; b → (1,0) 2, (1,1) 1.
    static let chunks = Placement.chunks(tensors: params, chunkElements: 2, servers: [1])

    static func store(_ optimizer: OptimizerConfig) -> ParameterStore {
        ParameterStore(chunks: chunks, tensors: params, seed: 11, optimizer: optimizer)
    }

    static func push(_ store: ParameterStore, _ tensors: [TestTensor], misalign: Int = 0) throws -> [UInt64] {
        try withViews(tensors, misalign: misalign) { views in
            try store.validate(views)
            return store.apply(views)
        }
    }

    @Test func sgdBumpsVersionsAndUpdatesOnlyThePushedKeys() throws {
        let store = Self.store(OptimizerConfig(kind: .sgd, learningRate: 0.5))
        let w1 = Chunk.key(param: 0, chunk: 1), b1 = Chunk.key(param: 1, chunk: 1)
        let before = store.snapshot()
        let initial = store.weights(of: w1)

        #expect(try Self.push(store, [TestTensor(key: w1, values: [1, 2]), TestTensor(key: b1, values: [4])]) == [1, 1])
        // w −= 0.5·g: the bias goes 0 − 0.5·4 = −2.
        #expect(areClose(store.weights(of: w1), [Double(initial[0]) - 0.5, Double(initial[1]) - 1]))
        #expect(store.weights(of: b1) == [-2])

        #expect(try Self.push(store, [TestTensor(key: b1, values: [-2])]) == [2])
        #expect(store.weights(of: b1) == [-1], "−2 − 0.5·(−2)")
        #expect(try Self.push(store, [TestTensor(key: b1, values: [0]), TestTensor(key: w1, values: [0, 0])]) == [3, 2],
                "versions come back in push order")

        let after = store.snapshot()
        for key in store.keys where key != w1 && key != b1 {
            #expect(after[key]!.bits == before[key]!.bits && after[key]!.version == 0, "\(keyName(key)) untouched")
        }
    }

    /// Adam's bias correction counts each key's own updates: a key pushed once takes a first step.
    @Test func adamStepsArePerKey() throws {
        let adam = OptimizerConfig(kind: .adam, learningRate: 0.01, weightDecay: 0.001)
        let store = Self.store(adam)
        let a = Chunk.key(param: 0, chunk: 0), b = Chunk.key(param: 0, chunk: 2)
        let (a0, b0) = (store.weights(of: a), store.weights(of: b))
        _ = try Self.push(store, [TestTensor(key: a, values: [0.3, -0.7])])
        _ = try Self.push(store, [TestTensor(key: a, values: [0.1, 0.2]), TestTensor(key: b, values: [0.5])])
        #expect(store.version(of: a) == 2 && store.version(of: b) == 1)
        #expect(store.weights(of: a) == run(adam, from: a0, steps: [[0.3, -0.7], [0.1, 0.2]]).weights)
        #expect(store.weights(of: b) == run(adam, from: b0, steps: [[0.5]]).weights)
    }

    /// A payload at an odd address (small ZeroMQ frames may sit anywhere) is read exactly as an aligned one, also
    /// when a later, larger payload outgrows the scratch buffer.
    @Test(arguments: [1, 2, 3])
    func unalignedPayloadGivesTheSameResult(misalign: Int) throws {
        let adam = OptimizerConfig(kind: .adam, learningRate: 0.01)
        let aligned = Self.store(adam), unaligned = Self.store(adam)
        let initial = aligned.snapshot()
        let pushes: [[TestTensor]] = [
            [TestTensor(key: Chunk.key(param: 0, chunk: 2), values: [0.25])],
            [TestTensor(key: Chunk.key(param: 1, chunk: 0), values: [1.5, -2.5]),
             TestTensor(key: Chunk.key(param: 0, chunk: 0), values: [-0.125, 3])],
            [TestTensor(key: Chunk.key(param: 0, chunk: 0), values: [0.75, 0.5])],
        ]
        for push in pushes {
            #expect(try Self.push(aligned, push) == Self.push(unaligned, push, misalign: misalign))
        }
        #expect(sameSnapshot(aligned.snapshot(), unaligned.snapshot()))
        #expect(!sameSnapshot(aligned.snapshot(), initial), "the pushes changed something")
        #expect(aligned.version(of: Chunk.key(param: 0, chunk: 0)) == 2)
    }

    /// BSP: a round's pushes are summed key by key (in the order given) and applied once per key, also from a
    /// misaligned frame and a bf16 payload; a key only one push carries is updated with that push alone.
    @Test func applySumUpdatesEachKeyOnceWithTheSum() throws {
        let store = Self.store(OptimizerConfig(kind: .sgd, learningRate: 0.5))
        let w1 = Chunk.key(param: 0, chunk: 1), b1 = Chunk.key(param: 1, chunk: 1)
        let initial = store.weights(of: w1)
        let bf16 = [Float(3), 5].flatMap { value in withUnsafeBytes(of: HalfPrecision.bf16(value).littleEndian) { Array($0) } }
        try withViews([TestTensor(key: w1, values: [1, 2]), TestTensor(key: b1, values: [4])], misalign: 1) { rank0 in
            try withViews([TestTensor(key: w1, dtype: .bf16, count: 2, bytes: bf16)]) { rank1 in
                try store.validate(rank0)
                try store.validate(rank1)
                store.applySum([rank0, rank1])
            }
        }
        #expect(store.weights(of: w1) == [initial[0] - 0.5 * 4, initial[1] - 0.5 * 7], "w − 0.5·(g0 + g1)")
        #expect(store.weights(of: b1) == [-2])
        #expect(store.version(of: w1) == 1 && store.version(of: b1) == 1, "one update per key for the round")
    }
}
