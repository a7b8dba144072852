import Testing
import SwiftPSCore

/// A push the store must refuse, and the code it must refuse it with.
struct BadPush: Sendable, CustomTestStringConvertible {
    var name: String
    var tensors: [TestTensor]
    var code: StatusCode
    var testDescription: String { name }
}

@Suite struct ParameterStoreValidateTests {
    static let params = [TensorSpec(name: "w", shape: [4], initializer: .heNormal, fanIn: 2), TensorSpec(name: "b", shape: [3])]
    static let w = Chunk.key(param: 0, chunk: 0), b = Chunk.key(param: 1, chunk: 0)
    static let goodW = TestTensor(key: w, values: [0.5, -0.5, 1, 2])
    static let goodB = TestTensor(key: b, values: [1, 2, 3])

    static func store(allowNonFinite: Bool = false) -> ParameterStore {
        let chunks = Placement.chunks(tensors: params, chunkElements: 4, servers: [1])
        let store = ParameterStore(chunks: chunks, tensors: params, seed: 5,
                                   optimizer: OptimizerConfig(kind: .momentum, learningRate: 0.1),
                                   allowNonFinite: allowNonFinite)
        // One update first, so that versions and biases are not at their initial values.
        withViews([goodW, goodB]) { views in
            try? store.validate(views)
            _ = store.apply(views)
        }
        return store
    }

    static let badPushes: [BadPush] = [
        BadPush(name: "unknown parameter", tensors: [goodW, TestTensor(key: Chunk.key(param: 9, chunk: 0), values: [1])],
                code: .notFound),
        BadPush(name: "unknown chunk", tensors: [TestTensor(key: Chunk.key(param: 0, chunk: 1), values: [1])],
                code: .notFound),
        BadPush(name: "duplicate key", tensors: [goodW, goodB, goodW], code: .invalidArgument),
        BadPush(name: "too few elements", tensors: [goodB, TestTensor(key: w, values: [1, 2, 3])], code: .invalidArgument),
        BadPush(name: "too many elements", tensors: [TestTensor(key: b, values: [1, 2, 3, 4])], code: .invalidArgument),
        BadPush(name: "short payload", tensors: [TestTensor(key: w, dtype: .f32, count: 4, bytes: .init(repeating: 0, count: 15))],
                code: .invalidArgument),
        BadPush(name: "long payload", tensors: [TestTensor(key: w, dtype: .f32, count: 4, bytes: .init(repeating: 0, count: 20))],
                code: .invalidArgument),
        BadPush(name: "bf16 with an fp32 length", tensors: [TestTensor(key: w, dtype: .bf16, count: 4, bytes: .init(repeating: 0, count: 16))],
                code: .invalidArgument),
        BadPush(name: "f16 NaN", tensors: [goodB, TestTensor(key: w, dtype: .f16, count: 4, bytes: [0, 0, 0, 0x7E, 0, 0, 0, 0])],
                code: .invalidArgument),
        BadPush(name: "NaN", tensors: [goodW, TestTensor(key: b, values: [1, 2, .nan])], code: .invalidArgument),
        BadPush(name: "+Inf", tensors: [TestTensor(key: w, values: [.infinity, 0, 0, 0]), goodB], code: .invalidArgument),
        BadPush(name: "-Inf", tensors: [TestTensor(key: b, values: [0, -.infinity, 0])], code: .invalidArgument),
    ]

    @Test(arguments: badPushes)
    func refusesAndLeavesEverythingUnchanged(push: BadPush) throws {
        let store = Self.store()
        let before = store.snapshot()
        #expect(before[Self.w]?.version == 1 && before[Self.b]?.version == 1)
        let error = withViews(push.tensors) { views in #expect(throws: SwiftPSError.self) { try store.validate(views) } }
        #expect(error?.code == push.code, "\(error?.message ?? "no error")")
        #expect(sameSnapshot(store.snapshot(), before))
    }

    @Test func validPushStillAppliesAfterRefusals() throws {
        let store = Self.store()
        for push in Self.badPushes {
            withViews(push.tensors) { views in _ = try? store.validate(views) }
        }
        let versions = try withViews([Self.goodB]) { views in
            try store.validate(views)
            return store.apply(views)
        }
        #expect(versions == [2])
        #expect(store.version(of: Self.w) == 1)
    }

    @Test func allowNonFiniteAcceptsNaN() throws {
        let store = Self.store(allowNonFinite: true)
        let before = store.weights(of: Self.b)
        let versions = try withViews([TestTensor(key: Self.b, values: [.nan, 0, .infinity])]) { views in
            try store.validate(views)
            return store.apply(views)
        }
        #expect(versions == [2])
        let after = store.weights(of: Self.b)
        #expect(after[0].isNaN && after[2].isInfinite && after[2] < 0)
        // Momentum 0.9, lr 0.1: the velocity was 2 after the first push of 2, so w = w − 0.1·(0.9·2 + 0) = w − 0.18.
        #expect(isClose(after[1], Double(before[1]) - 0.18))
    }
}
