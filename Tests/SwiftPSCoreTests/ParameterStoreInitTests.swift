import Testing
import SwiftPSCore

@Suite struct ParameterStoreInitTests {
    static let params = [
        TensorSpec(name: "w0", shape: [1000], initializer: .heNormal, fanIn: 10), TensorSpec(name: "b0", shape: [7]),
        TensorSpec(name: "w1", shape: [333], initializer: .heNormal, fanIn: 50), TensorSpec(name: "b1", shape: [1]),
    ]
    static let sgd = OptimizerConfig(kind: .sgd, learningRate: 0.1)

    /// Builds one store per server and reassembles every parameter from them, as bit patterns.
    static func reassemble(chunkElements: Int, servers: [UInt32], seed: UInt64 = 7) -> [[UInt32]] {
        let chunks = Placement.chunks(tensors: params, chunkElements: chunkElements, servers: servers)
        let stores = Dictionary(uniqueKeysWithValues: servers.map { id in
            (id, ParameterStore(chunks: chunks.filter { $0.server == id }, tensors: params, seed: seed, optimizer: sgd))
        })
        var out = params.map { [UInt32](repeating: 0xFFFF_FFFF, count: $0.count) }
        for chunk in chunks {
            let weights = stores[chunk.server]!.weights(of: chunk.key)
            out[chunk.param].replaceSubrange(chunk.offset..<(chunk.offset + chunk.count), with: weights.map(\.bitPattern))
        }
        return out
    }

    @Test func initIsTheSameWhateverTheChunkingAndServers() {
        let single = Self.reassemble(chunkElements: 1 << 20, servers: [1])
        #expect(Self.reassemble(chunkElements: 64, servers: [1, 2, 3]) == single)
        #expect(Self.reassemble(chunkElements: 7, servers: [9, 4]) == single)
        #expect(Self.reassemble(chunkElements: 1, servers: [3, 2, 1]) == single)
        for (index, spec) in Self.params.enumerated() {
            let direct = FloatBuffer(count: spec.count)
            DeterministicInit.fill(direct.buffer, seed: 7, param: index, spec: spec, offset: 0)
            #expect(single[index] == direct.array.map(\.bitPattern), "\(spec.name)")
        }
        #expect(Self.reassemble(chunkElements: 64, servers: [1], seed: 8) != single, "the seed matters")
    }

    @Test func biasesStartAtPositiveZeroAndWeightsDoNot() {
        let values = Self.reassemble(chunkElements: 64, servers: [1, 2, 3])
        #expect(values[1] == [UInt32](repeating: 0, count: 7))
        #expect(values[3] == [0])
        #expect(values[0].filter { $0 == 0 }.isEmpty && values[2].filter { $0 == 0 }.isEmpty)
        #expect(Array(values[0].prefix(333)) != values[2], "parameters draw different streams")
    }

    @Test(arguments: [10, 50, 512])
    func weightsAreHeScaled(fanIn: Int) throws {
        let spec = TensorSpec(name: "big", shape: [200_000], initializer: .heNormal, fanIn: fanIn)
        let chunks = Placement.chunks(tensors: [spec], chunkElements: 30_000, servers: [1])
        let store = ParameterStore(chunks: chunks, tensors: [spec], seed: 3, optimizer: Self.sgd)
        let values = chunks.flatMap { store.weights(of: $0.key) }.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
        let expected = (2.0 / Double(fanIn)).squareRoot()
        #expect(abs(std - expected) < 0.1 * expected, "std \(std), He std \(expected)")
        #expect(abs(mean) < 0.01 * expected, "mean \(mean)")
    }

    @Test func bookkeeping() {
        let chunks = Placement.chunks(tensors: Self.params, chunkElements: 300, servers: [1])
        let store = ParameterStore(chunks: chunks, tensors: Self.params, seed: 1, optimizer: Self.sgd)
        #expect(store.keyCount == 4 + 1 + 2 + 1)
        #expect(store.elements == 1341)
        #expect(store.keys == chunks.map(\.key))
        #expect(store.count(of: Chunk.key(param: 0, chunk: 3)) == 100)
        #expect(store.version(of: Chunk.key(param: 2, chunk: 1)) == 0)
        #expect(store.count(of: Chunk.key(param: 0, chunk: 4)) == nil)
        #expect(store.withWeights(of: Chunk.key(param: 4, chunk: 0)) { _, _ in 1 } == nil)
    }
}
