import Testing
import SwiftPSCore

@Suite struct ParameterStoreInitTests {
    static let params = [
        ParamSpec(name: "w0", count: 1000, fanIn: 10), ParamSpec(name: "b0", count: 7, fanIn: 0),
        ParamSpec(name: "w1", count: 333, fanIn: 50), ParamSpec(name: "b1", count: 1, fanIn: 0),
    ]
    static let sgd = OptimizerConfig(kind: .sgd, learningRate: 0.1)

    /// Builds one store per server and reassembles every parameter from them, as bit patterns.
    static func reassemble(chunkElements: Int, servers: [UInt32], seed: UInt64 = 7) -> [[UInt32]] {
        let chunks = Placement.chunks(params: params, chunkElements: chunkElements, servers: servers)
        let stores = Dictionary(uniqueKeysWithValues: servers.map { id in
            (id, ParameterStore(chunks: chunks.filter { $0.server == id }, params: params, seed: seed, optimizer: sgd))
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
        let spec = ParamSpec(name: "big", count: 200_000, fanIn: fanIn)
        let chunks = Placement.chunks(params: [spec], chunkElements: 30_000, servers: [1])
        let store = ParameterStore(chunks: chunks, params: [spec], seed: 3, optimizer: Self.sgd)
        let values = chunks.flatMap { store.weights(of: $0.key) }.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
        let expected = (2.0 / Double(fanIn)).squareRoot()
        #expect(abs(std - expected) < 0.1 * expected, "std \(std), He std \(expected)")
        #expect(abs(mean) < 0.01 * expected, "mean \(mean)")
    }

    @Test func bookkeeping() {
        let chunks = Placement.chunks(params: Self.params, chunkElements: 300, servers: [1])
        let store = ParameterStore(chunks: chunks, params: Self.params, seed: 1, optimizer: Self.sgd)
        #expect(store.keyCount == 4 + 1 + 2 + 1)
        #expect(store.elements == 1341)
        #expect(store.keys == chunks.map(\.key))
        #expect(store.count(of: Chunk.key(param: 0, chunk: 3)) == 100)
        #expect(store.version(of: Chunk.key(param: 2, chunk: 1)) == 0)
        #expect(store.count(of: Chunk.key(param: 0, chunk: 4)) == nil)
        #expect(store.withWeights(of: Chunk.key(param: 4, chunk: 0)) { _, _ in 1 } == nil)
    }
}
