import Testing
import SwiftPSCore

/// Per-tensor options on the servers' store: learning-rate scale, weight-decay exemption, frozen tensors, and
/// pushed tensors that clients assign.
@Suite struct ParameterStoreOptionsTests {
    static let tensors = [
        TensorSpec(name: "w", shape: [2], initializer: .constant(1)),
        TensorSpec(name: "b", shape: [2], initializer: .constant(1), weightDecay: false),
        TensorSpec(name: "s", shape: [2], initializer: .constant(1), lrScale: 4),
        TensorSpec(name: "f", shape: [2], initializer: .constant(1), frozen: true),
        TensorSpec(name: "p", shape: [2], initializer: .pushed),
    ]
    static let keys = (0..<5).map { Chunk.key(param: $0, chunk: 0) }

    static func store() -> ParameterStore {
        ParameterStore(chunks: Placement.chunks(tensors: tensors, chunkElements: 2, servers: [1]), tensors: tensors,
                       seed: 1, optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.5, weightDecay: 0.5))
    }

    static func push(_ store: ParameterStore, _ keys: [UInt64], _ values: [Float]) throws -> [UInt64] {
        try withViews(keys.map { TestTensor(key: $0, values: values) }) { views in
            try store.validate(views)
            return store.apply(views)
        }
    }

    @Test func optionsShapeEachTensorsUpdate() throws {
        let store = Self.store()
        #expect(try Self.push(store, Array(Self.keys[0..<4]), [1, 1]) == [1, 1, 1, 0], "the frozen key's version stays")
        // sgd with decay: w − lr·(g + λ·w) = 1 − 0.5·(1 + 0.5) = 0.25; no decay: 1 − 0.5 = 0.5; lr × 4: 1 − 2·1.5 = −2.
        #expect(store.weights(of: Self.keys[0]) == [0.25, 0.25])
        #expect(store.weights(of: Self.keys[1]) == [0.5, 0.5])
        #expect(store.weights(of: Self.keys[2]) == [-2, -2])
        #expect(store.weights(of: Self.keys[3]) == [1, 1])
        store.applySum([[TensorView(key: Self.keys[3], dtype: .f32, count: 2, bytes: Self.bytes([5, 5]))]])
        #expect(store.weights(of: Self.keys[3]) == [1, 1] && store.version(of: Self.keys[3]) == 0, "BSP leaves it too")
        #expect(throws: SwiftPSError.self, "a frozen key that took pushes is past its initial values") {
            try withViews([TestTensor(key: Self.keys[3], values: [7, 7])]) { try store.assign($0) }
        }
    }

    static func bytes(_ values: [Float]) -> UnsafeRawBufferPointer {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: values.count * 4, alignment: 16)
        values.withUnsafeBytes { memory.copyMemory(from: $0) }
        return UnsafeRawBufferPointer(memory)  // leaked on purpose: a few bytes a test
    }

    @Test func aPushedTensorIsServedOnceAssignedAndOnlyBeforeItsFirstUpdate() throws {
        let store = Self.store()
        let p = Self.keys[4]
        #expect(throws: SwiftPSError.self) { try store.requireServable(p) }
        do {
            _ = try Self.push(store, [p], [1, 1])
            Issue.record("a push to an unassigned key was accepted")
        } catch let error as SwiftPSError {
            #expect(error.code == .unavailable)
        }
        let before = store.snapshot()
        for bad in [[TestTensor(key: p, values: [1, .nan])], [TestTensor(key: p, values: [1])],
                    [TestTensor(key: p, values: [1, 2]), TestTensor(key: p, values: [1, 2])],
                    [TestTensor(key: p, values: [1, 2]), TestTensor(key: 99, values: [1, 2])]] {
            #expect(throws: SwiftPSError.self) { try withViews(bad) { try store.assign($0) } }
        }
        #expect(sameSnapshot(store.snapshot(), before), "a refused assign changes nothing")
        #expect(throws: SwiftPSError.self) { try store.requireServable(p) }

        try withViews([TestTensor(key: p, values: [3, -4])]) { try store.assign($0) }
        try withViews([TestTensor(key: p, values: [3, 4])]) { try store.assign($0) }  // again, before an update
        try store.requireServable(p)
        #expect(store.weights(of: p) == [3, 4] && store.version(of: p) == 0)
        #expect(try Self.push(store, [p], [2, 2]) == [1])
        #expect(store.weights(of: p) == [1.25, 2], "w − 0.5·(2 + 0.5·w) from the assigned values")
        do {
            try withViews([TestTensor(key: p, values: [0, 0])]) { try store.assign($0) }
            Issue.record("an updated key was assigned")
        } catch let error as SwiftPSError {
            #expect(error.code == .failedPrecondition)
        }
    }
}
