import Testing
import SwiftPSCore

/// A finite gradient so large that its update would take a weight or the optimizer's state past the largest fp32:
/// refused like a NaN, with every weight, state value and version left as it was.
@Suite struct ParameterStoreOverflowTests {
    static let params = [TensorSpec(name: "w", shape: [4], initializer: .heNormal, fanIn: 2)]
    static let w = Chunk.key(param: 0, chunk: 0)

    static func store(_ optimizer: OptimizerConfig) -> ParameterStore {
        ParameterStore(chunks: Placement.chunks(tensors: params, chunkElements: 4, servers: [1]), tensors: params, seed: 5,
                       optimizer: optimizer)
    }

    /// Validates and applies one push; the error if it was refused.
    static func push(_ store: ParameterStore, _ values: [Float]) -> SwiftPSError? {
        withViews([TestTensor(key: w, values: values)]) { views -> SwiftPSError? in
            do throws(SwiftPSError) {
                try store.validate(views)
                _ = store.apply(views)
                return nil
            } catch {
                return error
            }
        }
    }

    /// A rule, a huge gradient pushed again and again, and how many of those pushes stay finite.
    struct Case: Sendable, CustomTestStringConvertible {
        var optimizer: OptimizerConfig
        var gradient: [Float]
        var accepted: Int
        var testDescription: String { "\(optimizer.kind) \(gradient[0])" }
    }

    static let cases = [
        // w = −1.5e38, then −3e38 (beyond what the bound vouches for: checked on a copy), then −4.5e38: refused.
        Case(optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.5), gradient: [3e38, 0, 1, -1], accepted: 2),
        // velocity 3e38, then 0.9·3e38 + 3e38: refused.
        Case(optimizer: OptimizerConfig(kind: .momentum, learningRate: 0.5), gradient: [3e38, 0, 1, -1], accepted: 1),
        // v = (0.001·g)·g: 1e37 for g = 1e20 (accepted: the bound vouches for it), past fp32 for 1e21.
        Case(optimizer: OptimizerConfig(kind: .adam, learningRate: 0.01), gradient: [1e21, 0, 1, -1], accepted: 0),
    ]

    @Test(arguments: cases) func anUpdateThatWouldOverflowIsRefusedAndChangesNothing(test: Case) {
        let store = Self.store(test.optimizer), twin = Self.store(test.optimizer)
        for _ in 0..<test.accepted {
            #expect(Self.push(store, test.gradient) == nil)
            #expect(Self.push(twin, test.gradient) == nil)
        }
        let before = store.snapshot()
        #expect(store.weights(of: Self.w).allSatisfy { $0.isFinite })
        let error = Self.push(store, test.gradient)
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("past the largest fp32") == true, "\(error?.message ?? "accepted")")
        #expect(sameSnapshot(store.snapshot(), before))
        // The optimizer state is untouched too: the same sensible push gives the same bits as on the twin, which
        // never saw the refused one.
        #expect(Self.push(store, [0.1, -0.2, 0.3, 0]) == nil)
        #expect(Self.push(twin, [0.1, -0.2, 0.3, 0]) == nil)
        #expect(sameSnapshot(store.snapshot(), twin.snapshot()))
    }

    @Test func aHugeUpdateThatStaysFiniteIsApplied() {
        let store = Self.store(OptimizerConfig(kind: .adam, learningRate: 0.01))
        #expect(Self.push(store, [1e20, 0, 1, -1]) == nil)
        #expect(store.version(of: Self.w) == 1 && store.weights(of: Self.w).allSatisfy { $0.isFinite })
    }

    @Test func allowNonFiniteLetsItThrough() {
        let store = ParameterStore(chunks: Placement.chunks(tensors: Self.params, chunkElements: 4, servers: [1]),
                                   tensors: Self.params, seed: 5, optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.5),
                                   allowNonFinite: true)
        for _ in 0..<3 { #expect(Self.push(store, [3e38, 0, 1, -1]) == nil) }
        #expect(store.weights(of: Self.w)[0] == -.infinity && store.version(of: Self.w) == 3)
    }

    /// BSP: each push alone is fine, their sum overflows; that key is left as it was and reported, the others applied.
    @Test func aRoundWhoseSumWouldOverflowLeavesThatKeyAsItWas() throws {
        let params = [TensorSpec(name: "w", shape: [2], initializer: .heNormal, fanIn: 2), TensorSpec(name: "b", shape: [1])]
        let store = ParameterStore(chunks: Placement.chunks(tensors: params, chunkElements: 4, servers: [1]),
                                   tensors: params, seed: 5, optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.5))
        let w = Chunk.key(param: 0, chunk: 0), b = Chunk.key(param: 1, chunk: 0)
        let initial = store.weights(of: w)
        let skipped = try withViews([TestTensor(key: w, values: [3e38, 1]), TestTensor(key: b, values: [1])]) { rank0 in
            try withViews([TestTensor(key: w, values: [3e38, 1]), TestTensor(key: b, values: [2])]) { rank1 in
                try store.validate(rank0)
                try store.validate(rank1)
                return store.applySum([rank0, rank1])
            }
        }
        #expect(skipped == [w])
        #expect(store.weights(of: w) == initial && store.version(of: w) == 0)
        #expect(store.weights(of: b) == [-1.5] && store.version(of: b) == 1, "b − 0.5·(1 + 2)")
    }
}
