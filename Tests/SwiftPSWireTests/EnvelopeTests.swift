import Testing
import SwiftPSCore
import SwiftPSWire

@Suite struct EnvelopeTests {
    static func roundTrip(_ envelope: Envelope) throws -> Envelope {
        try envelope.encoded().withUnsafeBytes { (raw) throws(SwiftPSError) in try Envelope(decoding: raw) }
    }

    @Test func requestWithTensors() throws {
        let envelope = Envelope(requestID: 0x1234_5678_9ABC, method: .pushPull, timeoutMs: 30_000,
                                body: PushPullRequest(dtype: .bf16).encoded(), tensors: [
                                    TensorHeader(key: Chunk.key(param: 2, chunk: 5), dtype: .f32, count: 65_536, frame: 1),
                                    TensorHeader(key: Chunk.key(param: 0, chunk: 0), dtype: .bf16, count: 3, frame: 2,
                                                 version: 99),
                                    TensorHeader(key: UInt64.max, dtype: .f16, count: 0, frame: 3, version: UInt64.max),
                                ])
        let decoded = try Self.roundTrip(envelope)
        #expect(decoded == envelope)
        #expect(decoded.method == .pushPull)
        #expect(decoded.tensors.map(\.dtype) == [.f32, .bf16, .f16])
        #expect(try PushPullRequest(decoding: decoded.body).dtype == .bf16)
    }

    @Test(arguments: [StatusCode.ok, .invalidArgument, .notFound, .failedPrecondition, .unavailable, .internal])
    func replyStatus(status: StatusCode) throws {
        let message = status == .ok ? "" : "key 3:1: 2 elements sent, the key has 4"
        let envelope = Envelope(requestID: 7, method: .push, status: status, statusMessage: message)
        #expect(try Self.roundTrip(envelope) == envelope)
    }

    @Test func okWithMessageKeepsTheMessage() throws {
        let envelope = Envelope(requestID: 1, method: .stats, status: .ok, statusMessage: "note")
        #expect(try Self.roundTrip(envelope) == envelope)
    }

    @Test func unknownMethodAndDTypeSurviveAsRawNumbers() throws {
        let envelope = Envelope(requestID: 3, methodRaw: 99, timeoutMs: 0, status: .ok, statusMessage: "", body: [1, 2],
                                tensors: [TensorHeader(key: 1, dtypeRaw: 77, count: 4, frame: 1, version: 0)])
        let decoded = try Self.roundTrip(envelope)
        #expect(decoded == envelope)
        #expect(decoded.methodRaw == 99 && decoded.method == nil)
        #expect(decoded.tensors.first?.dtypeRaw == 77 && decoded.tensors.first?.dtype == nil)
    }

    @Test func unsetDTypeIsNil() {
        #expect(TensorHeader(key: 1, dtypeRaw: 0, count: 1, frame: 1, version: 0).dtype == nil)
    }
}

@Suite struct MalformedBytesTests {
    static let garbage: [[UInt8]] = [[0xFF, 0xFF, 0xFF], [0x0A, 0x05, 0x01], [0x08], [0x0F]]

    /// The code of the SwiftPSError `body` throws; nil when it throws nothing or another error.
    static func code(_ body: () throws -> Void) -> StatusCode? {
        do {
            try body()
            return nil
        } catch let error as SwiftPSError {
            return error.code
        } catch {
            return nil
        }
    }

    @Test(arguments: garbage)
    func everyDecoderRefusesGarbage(bytes: [UInt8]) {
        #expect(Self.code { _ = try bytes.withUnsafeBytes { (raw) throws(SwiftPSError) in try Envelope(decoding: raw) } } == .invalidArgument)
        #expect(Self.code { _ = try RegisterRequest(decoding: bytes) } == .invalidArgument)
        #expect(Self.code { _ = try RegisterReply(decoding: bytes) } == .invalidArgument)
        #expect(Self.code { _ = try HeartbeatRequest(decoding: bytes) } == .invalidArgument)
        #expect(Self.code { _ = try ShardMap(decoding: bytes) } == .invalidArgument)
        #expect(Self.code { _ = try BarrierRequest(decoding: bytes) } == .invalidArgument)
        #expect(Self.code { _ = try PullRequest(decoding: bytes) } == .invalidArgument)
        #expect(Self.code { _ = try PushReply(decoding: bytes) } == .invalidArgument)
        #expect(Self.code { _ = try StatsReply(decoding: bytes) } == .invalidArgument)
        #expect(Self.code { try Empty.validate(bytes) } == .invalidArgument)
        #expect(Self.code { _ = try Empty(decoding: bytes) } == .invalidArgument)
    }

    @Test func semanticallyInvalidValuesAreRefused() throws {
        // RegisterRequest field 1 (role) = 9: no such role.
        #expect(Self.code { _ = try RegisterRequest(decoding: [0x08, 0x09]) } == .invalidArgument)
        // PullRequest field 2 (dtype) = 9: no such dtype. (Field numbers as in Protos/.)
        #expect(Self.code { _ = try PullRequest(decoding: PullRequest(keys: [1]).encoded() + [0x10, 0x09]) } == .invalidArgument)
        // A RegisterReply without its job.
        #expect(Self.code { _ = try RegisterReply(decoding: []) } == .invalidArgument)
    }
}
