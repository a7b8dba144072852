import Testing
import SwiftPSCore

/// Pulls send the weights buffer itself; a push never writes a buffer that such a send still holds.
@Suite struct ParameterStoreSharedWeightsTests {
    static let key = Chunk.key(param: 0, chunk: 0)

    static func store() -> ParameterStore {
        ParameterStore(chunks: ParameterStoreApplyTests.chunks, tensors: ParameterStoreApplyTests.params, seed: 11,
                       optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.5))
    }

    static func bufferID(_ store: ParameterStore) -> ObjectIdentifier {
        ObjectIdentifier(store.sharedWeights(of: key)!.weights)
    }

    @Test func aHeldBufferKeepsItsValuesWhileThePushGoesToAnother() throws {
        let store = Self.store()
        let initial = store.weights(of: Self.key)
        let original = Self.bufferID(store)

        // Nobody holds the weights: pushes update them in place.
        _ = try ParameterStoreApplyTests.push(store, [TestTensor(key: Self.key, values: [2, 4])])
        #expect(Self.bufferID(store) == original)
        _ = try ParameterStoreApplyTests.push(store, [TestTensor(key: Self.key, values: [-2, -4])])
        #expect(Self.bufferID(store) == original)
        _ = try ParameterStoreApplyTests.push(store, [TestTensor(key: Self.key, values: [2, 4])])
        #expect(Self.bufferID(store) == original)
        let once = store.weights(of: Self.key)
        #expect(areClose(once, [Double(initial[0]) - 1, Double(initial[1]) - 2]))

        // A send holds them (as a pull's reply in flight does): it keeps the values it was given.
        do {
            let (held, version) = store.sharedWeights(of: Self.key)!
            #expect(version == 3)
            _ = try ParameterStoreApplyTests.push(store, [TestTensor(key: Self.key, values: [2, 2])])
            #expect(held.array == once, "the held buffer was written")
            #expect(ObjectIdentifier(held) == original)
            #expect(Self.bufferID(store) != original)
        }
        let twice = store.weights(of: Self.key)
        #expect(areClose(twice, [Double(once[0]) - 1, Double(once[1]) - 1]))
        #expect(store.version(of: Self.key) == 4)

        // Held again after that send is done: the push moves back into the first buffer, free now, instead of
        // allocating another.
        let current = Self.bufferID(store)
        let (heldAgain, _) = store.sharedWeights(of: Self.key)!
        _ = try ParameterStoreApplyTests.push(store, [TestTensor(key: Self.key, values: [0, 0])])
        #expect(ObjectIdentifier(heldAgain) == current)
        #expect(heldAgain.array == twice)
        #expect(store.weights(of: Self.key) == twice, "a zero gradient leaves SGD's weights as they were")
        #expect(Self.bufferID(store) == original)
    }
}
