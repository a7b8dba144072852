import SwiftPSCore
import SwiftPSWire

/// Bytes to send as one payload frame, with the object that keeps them alive.
///
/// `@unchecked Sendable`: `bytes` points into `owner`, which the send retains until libzmq has written the frame;
/// the owner promises not to change them meanwhile.
public struct Payload: @unchecked Sendable {
    /// Below this, copying is cheaper than libzmq's zero-copy bookkeeping.
    static let zeroCopyThreshold = 4096

    public let owner: AnyObject
    public let bytes: UnsafeRawBufferPointer

    public init(owner: AnyObject, bytes: UnsafeRawBufferPointer) {
        self.owner = owner
        self.bytes = bytes
    }

    /// `count` floats of `buffer` from `offset`.
    public init(_ buffer: FloatBuffer, offset: Int = 0, count: Int? = nil) {
        let count = count ?? buffer.count - offset
        precondition(offset >= 0 && offset + count <= buffer.count, "payload outside its buffer")
        self.init(owner: buffer, bytes: UnsafeRawBufferPointer(start: buffer.pointer + offset, count: count * 4))
    }
}

/// A tensor to send: its header (the frame index is filled in when sent) and its bytes.
public struct OutgoingTensor: Sendable {
    public var key: UInt64
    public var dtype: DType
    public var count: Int
    public var version: UInt64
    public var payload: Payload

    public init(key: UInt64, dtype: DType = .f32, count: Int, version: UInt64 = 0, payload: Payload) {
        self.key = key
        self.dtype = dtype
        self.count = count
        self.version = version
        self.payload = payload
    }

    /// Headers for these tensors, payload frames numbered from 1.
    static func headers(_ tensors: [OutgoingTensor]) -> [TensorHeader] {
        tensors.enumerated().map { index, t in
            TensorHeader(key: t.key, dtype: t.dtype, count: t.count, frame: index + 1, version: t.version)
        }
    }
}

/// A tensor as received: its header and its frame, read in place.
public struct ReceivedTensor: Sendable {
    public var header: TensorHeader
    public var frame: Frame

    public var bytes: UnsafeRawBufferPointer { frame.bytes }
}

/// Checks that the envelope describes the payload frames exactly: each frame once, sizes matching count × dtype.
/// - Returns: the tensors, in the envelope's order.
func matchTensors(_ envelope: Envelope, payloads: ArraySlice<Frame>) throws(SwiftPSError) -> [ReceivedTensor] {
    let frames = Array(payloads)
    guard envelope.tensors.count == frames.count else {
        throw SwiftPSError(.invalidArgument, "envelope describes \(envelope.tensors.count) payload frames, message has \(frames.count)")
    }
    var used = [Bool](repeating: false, count: frames.count)
    var tensors: [ReceivedTensor] = []
    tensors.reserveCapacity(frames.count)
    for header in envelope.tensors {
        let index = Int(header.frame) - 1
        guard index >= 0, index < frames.count, !used[index] else {
            throw SwiftPSError(.invalidArgument, "tensor \(keyName(header.key)) names frame \(header.frame), which is missing or taken")
        }
        used[index] = true
        guard let dtype = header.dtype else {
            throw SwiftPSError(.invalidArgument, "tensor \(keyName(header.key)) has unknown dtype \(header.dtypeRaw)")
        }
        guard header.count <= UInt64(Int.max / 8), dtype.accepts(byteCount: frames[index].count, count: Int(header.count)) else {
            throw SwiftPSError(.invalidArgument,
                               "tensor \(keyName(header.key)): a frame of \(frames[index].count) bytes is not \(header.count) elements of \(dtype)")
        }
        tensors.append(ReceivedTensor(header: header, frame: frames[index]))
    }
    return tensors
}
