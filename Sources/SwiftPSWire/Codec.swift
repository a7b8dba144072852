internal import CProtobufC
internal import SwiftPSProto
import SwiftPSCore

// The bridge between Swift values and protobuf-c. Only this file and Codec+Messages.swift see C types.

/// Packs a protobuf-c message with its generated `get_packed_size` / `pack` pair.
func pack<M>(_ message: inout M, _ size: (UnsafePointer<M>?) -> Int,
             _ pack: (UnsafePointer<M>?, UnsafeMutablePointer<UInt8>?) -> Int) -> [UInt8] {
    let count = size(&message)
    var out = [UInt8](repeating: 0, count: count)
    out.withUnsafeMutableBufferPointer { buffer in
        let written = pack(&message, buffer.baseAddress)
        precondition(written == count, "protobuf-c packed \(written) bytes, sized \(count)")
    }
    return out
}

/// Packs a message whose strings, arrays and sub-messages live in `arena`, which stays alive until it is packed
/// (Swift may otherwise free an object right after its last use).
func pack<M>(_ message: inout M, keeping arena: Arena, _ size: (UnsafePointer<M>?) -> Int,
             _ pack: (UnsafePointer<M>?, UnsafeMutablePointer<UInt8>?) -> Int) -> [UInt8] {
    withExtendedLifetime(arena) { SwiftPSWire.pack(&message, size, pack) }
}

/// Unpacks with a generated `unpack`, lets `read` copy out what it needs, and frees the C message.
func unpack<M, R>(_ bytes: UnsafeRawBufferPointer, _ name: String,
                  _ unpack: (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<M>?,
                  _ free: (UnsafeMutablePointer<M>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void,
                  _ read: (UnsafeMutablePointer<M>) throws(SwiftPSError) -> R) throws(SwiftPSError) -> R {
    let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
    guard let message = unpack(nil, bytes.count, base) else {
        throw SwiftPSError(.invalidArgument, "malformed \(name): \(bytes.count) bytes that are not a valid protobuf message")
    }
    defer { free(message, nil) }
    return try read(message)
}

func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    pointer.map { String(cString: $0) } ?? ""
}

func array<T>(_ pointer: UnsafeMutablePointer<T>?, _ count: Int) -> [T] {
    guard let pointer, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
}

/// Sub-messages of a repeated field, as an array of values.
func messages<T>(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ count: Int) -> [T] {
    guard let pointer, count > 0 else { return [] }
    return (0..<count).compactMap { pointer[$0]?.pointee }
}

extension Envelope {
    /// The protobuf encoding of frame 0.
    public func encoded() -> [UInt8] {
        let arena = Arena()
        var m = Swiftps__V1__Envelope()
        swiftps__v1__envelope__init(&m)
        m.request_id = requestID
        m.method = Swiftps__V1__Method(rawValue: UInt32(truncatingIfNeeded: methodRaw))
        m.timeout_ms = timeoutMs
        if status != .ok || !statusMessage.isEmpty {
            var s = Swiftps__V1__Status()
            swiftps__v1__status__init(&s)
            s.code = Swiftps__V1__StatusCode(rawValue: UInt32(status.rawValue))
            s.message = arena.string(statusMessage)
            m.status = arena.new(s)
        }
        m.body = ProtobufCBinaryData(len: body.count, data: arena.array(body))
        let headers: [UnsafeMutablePointer<Swiftps__V1__TensorHeader>?] = tensors.map { t in
            var h = Swiftps__V1__TensorHeader()
            swiftps__v1__tensor_header__init(&h)
            h.key = t.key
            h.dtype = Swiftps__V1__DType(rawValue: UInt32(truncatingIfNeeded: t.dtypeRaw))
            h.count = t.count
            h.frame = t.frame
            h.version = t.version
            return arena.new(h)
        }
        m.n_tensors = headers.count
        m.tensors = arena.array(headers)
        return pack(&m, keeping: arena, swiftps__v1__envelope__get_packed_size, swiftps__v1__envelope__pack)
    }

    /// Decodes frame 0; throws INVALID_ARGUMENT for bytes that are not an envelope.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(SwiftPSError) {
        self = try unpack(bytes, "envelope", swiftps__v1__envelope__unpack, swiftps__v1__envelope__free_unpacked) { m in
            let e = m.pointee
            let status = e.status?.pointee
            let code = status.map { StatusCode(rawValue: Int($0.code.rawValue)) ?? .unknown } ?? .ok
            let headers = messages(e.tensors, e.n_tensors).map {
                TensorHeader(key: $0.key, dtypeRaw: Int($0.dtype.rawValue), count: $0.count, frame: $0.frame,
                             version: $0.version)
            }
            let body = e.body.len > 0 ? Array(UnsafeBufferPointer(start: e.body.data, count: e.body.len)) : []
            return Envelope(requestID: e.request_id, methodRaw: Int(e.method.rawValue), timeoutMs: e.timeout_ms,
                            status: code, statusMessage: string(status?.message), body: body, tensors: headers)
        }
    }
}
