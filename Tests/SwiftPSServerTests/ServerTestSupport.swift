import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSServer

/// The shard most server tests use: w (2000 floats) in chunks of 1500, so that one payload is large enough to go
/// zero-copy, and b (3 floats), all on server 7.
enum TestShard {
    static let params = [TensorSpec(name: "w", shape: [2000], initializer: .heNormal, fanIn: 20), TensorSpec(name: "b", shape: [3])]
    static let chunks = Placement.chunks(tensors: params, chunkElements: 1500, servers: [7])
    static let w0 = Chunk.key(param: 0, chunk: 0), w1 = Chunk.key(param: 0, chunk: 1), b = Chunk.key(param: 1, chunk: 0)
    static let sgd = OptimizerConfig(kind: .sgd, learningRate: 0.5)

    /// A fresh store; every call gives the same initial weights.
    static func store() -> ParameterStore {
        ParameterStore(chunks: chunks, tensors: params, seed: 21, optimizer: sgd)
    }

    static func initial(_ key: UInt64) -> [Float] {
        store().withWeights(of: key) { weights, _ in Array(weights) } ?? []
    }
}

func tensor(_ key: UInt64, _ values: [Float]) -> OutgoingTensor {
    let buffer = FloatBuffer(count: values.count)
    _ = buffer.buffer.update(from: values)
    return OutgoingTensor(key: key, count: values.count, payload: Payload(buffer))
}

/// A payload's floats, copied out (a frame may sit at any address).
func floats(_ bytes: UnsafeRawBufferPointer) -> [Float] {
    let count = bytes.count / 4
    var out = [Float](repeating: 0, count: count)
    out.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<(count * 4)])) }
    return out
}

func floats(_ tensor: ReceivedTensor) -> [Float] { tensor.frame.withBytes { floats($0) } }

func floats(_ tensor: OutgoingTensor) -> [Float] { withExtendedLifetime(tensor.payload.owner) { floats(tensor.payload.bytes) } }
