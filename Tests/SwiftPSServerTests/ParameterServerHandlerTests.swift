import Testing
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSServer

/// The handler driven directly, with requests that carry no payload frames (pulls, stats, refusals).
/// Pushes need received frames, which only a socket makes: see `ParameterServerRPCTests`.
@Suite struct ParameterServerHandlerTests {
    static func request(_ methodRaw: Int, _ body: [UInt8], id: UInt64 = 1) -> IncomingRequest {
        let route = Route(identity: [1], requestID: id, method: methodRaw)
        return IncomingRequest(route: route, envelope: Envelope(requestID: id, methodRaw: methodRaw, timeoutMs: 0,
                                                                status: .ok, statusMessage: "", body: body, tensors: []),
                               byteCount: 100)
    }

    static func request(_ method: Method, _ body: some WireMessage = Empty(), id: UInt64 = 1) -> IncomingRequest {
        request(method.rawValue, body.encoded(), id: id)
    }

    static func only(_ replies: [OutgoingReply]) throws -> OutgoingReply {
        try #require(replies.count == 1 ? replies.first : nil)
    }

    @Test func pullAnswersTheInitialWeightsInOrder() throws {
        let handler = ParameterServerHandler(nodeID: 7, store: TestShard.store())
        let reply = try Self.only(handler.handle(Self.request(.pull, PullRequest(keys: [TestShard.b, TestShard.w0]), id: 9)))
        #expect(reply.status == .ok && reply.route.requestID == 9)
        #expect(reply.tensors.map(\.key) == [TestShard.b, TestShard.w0])
        #expect(reply.tensors.map(\.count) == [3, 1500])
        #expect(reply.tensors.map(\.version) == [0, 0])
        #expect(reply.tensors.allSatisfy { $0.dtype == .f32 })
        #expect(floats(reply.tensors[0]) == [0, 0, 0])
        #expect(floats(reply.tensors[1]) == TestShard.initial(TestShard.w0))
    }

    /// Mixed precision: the fp32 master is sent as bf16 (or f16), rounded to nearest even.
    @Test(arguments: [DType.bf16, .f16]) func pullServesSixteenBitValues(dtype: DType) throws {
        let handler = ParameterServerHandler(nodeID: 7, store: TestShard.store())
        let reply = try Self.only(handler.handle(Self.request(.pull, PullRequest(keys: [TestShard.w0], dtype: dtype))))
        let tensor = try #require(reply.tensors.first)
        #expect(tensor.dtype == dtype && tensor.count == 1500 && tensor.payload.bytes.count == 3000)
        var decoded = [Float](repeating: 0, count: 1500)
        decoded.withUnsafeMutableBufferPointer {
            HalfPrecision.decode(tensor.payload.bytes.baseAddress!, as: dtype, to: $0.baseAddress!, count: 1500)
        }
        let expected = TestShard.initial(TestShard.w0).map {
            dtype == .bf16 ? HalfPrecision.float(bf16: HalfPrecision.bf16($0)) : HalfPrecision.float(f16: HalfPrecision.f16($0))
        }
        #expect(decoded == expected)
        #expect(decoded != TestShard.initial(TestShard.w0), "nothing was rounded: the test would not see a wrong dtype")
    }

    @Test func refusals() throws {
        let handler = ParameterServerHandler(nodeID: 7, store: TestShard.store())
        let cases: [(IncomingRequest, StatusCode)] = [
            (Self.request(.pull, PullRequest(keys: [TestShard.b, Chunk.key(param: 5, chunk: 0)])), .notFound),
            (Self.request(Method.pull.rawValue, [0x10, 77]), .invalidArgument),  // PullRequest.dtype = 77
            (Self.request(Method.pull.rawValue, [0xFF, 0xFF, 0xFF]), .invalidArgument),
            (Self.request(Method.stats.rawValue, [0xFF, 0xFF, 0xFF]), .invalidArgument),
            (Self.request(.push), .invalidArgument),  // a push with no tensor
            (Self.request(99, []), .unimplemented),
            (Self.request(.register, RegisterRequest(role: .worker, address: "", instance: "i")), .unimplemented),
        ]
        for (request, code) in cases {
            let reply = try Self.only(handler.handle(request))
            #expect(reply.status == code, "\(request.envelope.methodRaw): \(reply.message)")
            #expect(reply.tensors.isEmpty && reply.body.isEmpty && !reply.message.isEmpty)
        }
        let stats = try StatsReply(decoding: Self.only(handler.handle(Self.request(.stats))).body)
        #expect((stats.pushes, stats.pulls, stats.rejected) == (0, 0, 7))
        #expect(stats.bytesReceived == 800, "8 requests of 100 bytes")
        #expect(stats.bytesSent == 0)
    }

    @Test func statsCountPullsAndBytes() throws {
        let handler = ParameterServerHandler(nodeID: 7, store: TestShard.store())
        _ = handler.handle(Self.request(.pull, PullRequest(keys: [TestShard.w0, TestShard.w1, TestShard.b])))
        _ = handler.handle(Self.request(.pull, PullRequest(keys: [TestShard.b])))
        let stats = try StatsReply(decoding: Self.only(handler.handle(Self.request(.stats))).body)
        #expect((stats.pushes, stats.pulls, stats.rejected) == (0, 2, 0))
        #expect(stats.bytesSent == 4 * (2003 + 3))
        #expect(stats.bytesReceived == 300)
        #expect((stats.keys, stats.elements, stats.nodeID) == (3, 2003, 7))
    }

    @Test func unavailableUntilAShardIsInstalled() throws {
        let handler = ParameterServerHandler(nodeID: 7)
        #expect(try Self.only(handler.handle(Self.request(.pull, PullRequest(keys: [TestShard.b])))).status == .unavailable)
        #expect(try Self.only(handler.handle(Self.request(.push))).status == .unavailable)
        let before = try StatsReply(decoding: Self.only(handler.handle(Self.request(.stats))).body)
        #expect((before.keys, before.elements, before.rejected) == (0, 0, 2))

        handler.install(TestShard.store())
        let reply = try Self.only(handler.handle(Self.request(.pull, PullRequest(keys: [TestShard.w1]))))
        #expect(reply.status == .ok)
        #expect(floats(reply.tensors[0]) == TestShard.initial(TestShard.w1))
        #expect(handler.tick(now: .now).isEmpty)
    }
}
