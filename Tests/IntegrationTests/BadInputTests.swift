import Foundation
import Testing
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSServer

extension Integration {
    /// Raw frames from a test socket against a real server and coordinator: every bad input gets an error status,
    /// nothing changes, and normal pushes and pulls still give the right numbers.
    @Suite struct BadInput {
        /// Layers 4,3,2 in chunks of 4: keys 0:0 0:1 0:2 (weights 12), 1:0 (bias 3), 2:0 2:1 (weights 6), 3:0 (bias 2).
        static let job = ["--servers", "1", "--workers", "1", "--layers", "4,3,2", "--chunk-elements", "4",
                          "--optimizer", "sgd", "--lr", "0.5"]
        static let key = Chunk.key(param: 0, chunk: 0)
        static let keys = [(0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (2, 1), (3, 0)].map { Chunk.key(param: $0.0, chunk: $0.1) }

        /// Sends one message and decodes the reply's envelope.
        static func exchange(_ endpoint: String, _ frames: [[UInt8]], timeout: Duration = .seconds(5)) async throws -> Envelope? {
            try await onDedicatedThread { () throws -> Envelope? in
                let dealer = try RawDealer(context: ZMQContext(), endpoint: endpoint)
                try dealer.send(frames)
                guard let reply = dealer.receive(timeout: timeout) else { return nil }
                return try reply[0].withUnsafeBytes { (bytes) throws(SwiftPSError) in try Envelope(decoding: bytes) }
            }
        }

        static func envelope(_ method: Int, body: [UInt8] = [], tensors: [TensorHeader] = []) -> [UInt8] {
            Envelope(requestID: 7, methodRaw: method, timeoutMs: 0, status: .ok, statusMessage: "", body: body,
                     tensors: tensors).encoded()
        }

        static func floats(_ values: [Float]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

        static func header(_ key: UInt64 = key, dtype: Int = DType.f32.rawValue, count: UInt64 = 4, frame: UInt32 = 1) -> TensorHeader {
            TensorHeader(key: key, dtypeRaw: dtype, count: count, frame: frame, version: 0)
        }

        @Test func serverRefusesBadInputAndKeepsItsState() async throws {
            let coordinator = try RunningProcess("coordinator", ["coordinator", "--bind", "tcp://127.0.0.1:0"] + Self.job)
            defer { coordinator.stop() }
            let address = listeningAddress(try await coordinator.line { $0.hasPrefix("listening ") })
            let server = try RunningProcess("server", ["server", "--coordinator", address, "--bind", "tcp://127.0.0.1:0",
                                                       "--max-message-mib", "1"])
            defer { server.stop() }
            let endpoint = listeningAddress(try await server.line { $0.hasPrefix("listening ") })
            _ = try await server.line(.stderr) { $0.contains("serving 7 chunks") }

            let client = try ParameterServerClient(context: ZMQContext(), endpoint: endpoint)
            let before = try await Self.snapshot(client)
            #expect(before.values.allSatisfy { $0.version == 0 })

            let push = Method.push.rawValue, gradient = Self.floats([1, 2, 3, 4])
            let nan = Self.floats([1, .nan, 3, 4]), inf = Self.floats([1, 2, .infinity, 4])
            let quarterMiB = [UInt8](repeating: 0, count: 3 << 18)
            let cases: [(String, [[UInt8]], StatusCode)] = [
                ("malformed envelope", [[0xFF, 0xFF, 0xFF]], .invalidArgument),
                ("unknown method", [Self.envelope(99)], .unimplemented),
                ("coordinator method", [Self.envelope(Method.register.rawValue)], .unimplemented),
                ("malformed body", [Self.envelope(Method.pull.rawValue, body: [0xFF, 0xFF])], .invalidArgument),
                ("unknown key", [Self.envelope(push, tensors: [Self.header(99)]), gradient], .notFound),
                ("unknown pull key", [Self.envelope(Method.pull.rawValue, body: PullRequest(keys: [99]).encoded())], .notFound),
                ("wrong element count", [Self.envelope(push, tensors: [Self.header(Chunk.key(param: 1, chunk: 0))]), gradient], .invalidArgument),
                ("bf16 with the wrong count", [Self.envelope(push, tensors: [Self.header(dtype: DType.bf16.rawValue, count: 6)]), [UInt8](repeating: 0, count: 12)], .invalidArgument),
                ("unknown dtype", [Self.envelope(push, tensors: [Self.header(dtype: 77)]), gradient], .invalidArgument),
                ("count and bytes disagree", [Self.envelope(push, tensors: [Self.header(count: 3)]), gradient], .invalidArgument),
                ("payload frame missing", [Self.envelope(push, tensors: [Self.header()])], .invalidArgument),
                ("extra payload frame", [Self.envelope(push, tensors: [Self.header()]), gradient, gradient], .invalidArgument),
                ("frame named twice", [Self.envelope(push, tensors: [Self.header(), Self.header(Chunk.key(param: 0, chunk: 1))]), gradient, gradient], .invalidArgument),
                ("same key twice", [Self.envelope(push, tensors: [Self.header(), Self.header(frame: 2)]), gradient, gradient], .invalidArgument),
                ("empty push", [Self.envelope(push)], .invalidArgument),
                ("push-pull answering an unknown dtype", [Self.envelope(Method.pushPull.rawValue, body: [0x08, 77], tensors: [Self.header()]), gradient], .invalidArgument),
                ("NaN gradient", [Self.envelope(push, tensors: [Self.header()]), nan], .invalidArgument),
                ("Inf gradient", [Self.envelope(push, tensors: [Self.header()]), inf], .invalidArgument),
                ("NaN in a later tensor", [Self.envelope(push, tensors: [Self.header(), Self.header(Chunk.key(param: 0, chunk: 1), frame: 2)]), gradient, nan], .invalidArgument),
                ("oversized message", [Self.envelope(push, tensors: [Self.header(count: UInt64(quarterMiB.count / 4)), Self.header(Chunk.key(param: 0, chunk: 1), count: UInt64(quarterMiB.count / 4), frame: 2)]), quarterMiB, quarterMiB], .resourceExhausted),
            ]
            for (name, frames, expected) in cases {
                let reply = try #require(try await Self.exchange(endpoint, frames), "\(name): no reply")
                #expect(reply.status == expected, "\(name): \(reply.status) \(reply.statusMessage)")
                #expect(!reply.statusMessage.isEmpty, "\(name): no message")
            }
            // A frame larger than ZMQ_MAXMSGSIZE: libzmq drops that peer; nobody else notices.
            #expect(try await Self.exchange(endpoint, [Self.envelope(push, tensors: [Self.header(count: 1 << 19)]),
                                                        [UInt8](repeating: 0, count: 2 << 20)], timeout: .seconds(1)) == nil)

            let after = try await Self.snapshot(client)
            #expect(after == before, "a refused request changed the weights")
            #expect(try await client.stats().rejected == UInt64(cases.count))

            // A normal push still gives the right numbers: SGD, lr 0.5.
            let g: [Float] = [1, 2, 3, 4]
            let buffer = FloatBuffer(count: 4)
            _ = buffer.buffer.update(fromContentsOf: g)
            let versions = try await client.push([OutgoingTensor(key: Self.key, count: 4, payload: Payload(buffer))])
            #expect(versions == [1])
            let updated = try await Self.snapshot(client)
            let expected = zip(before[Self.key]!.values, g).map { w, g in w - Float(0.5) * g }
            #expect(updated[Self.key]!.values == expected)
            #expect(updated[Self.key]!.version == 1)
            for key in Self.keys where key != Self.key { #expect(updated[key] == before[key]) }

            // A finite gradient whose update would pass the largest fp32: w − 0.5·3e38 twice stays finite (about
            // −3e38), a third time is refused, and nothing changes.
            let huge = FloatBuffer(count: 4)
            _ = huge.buffer.update(fromContentsOf: [Float(3e38), 0, 0, 0])
            let hugePush = [OutgoingTensor(key: Self.key, count: 4, payload: Payload(huge))]
            #expect(try await client.push(hugePush) == [2])
            #expect(try await client.push(hugePush) == [3])
            let nearTheEdge = try await Self.snapshot(client)
            #expect(nearTheEdge[Self.key]!.values[0] < -2.9e38 && nearTheEdge[Self.key]!.values[0].isFinite)
            let overflow = await #expect(throws: SwiftPSError.self) { try await client.push(hugePush) }
            #expect(overflow?.code == .invalidArgument && overflow?.message.contains("past the largest fp32") == true,
                    "\(String(describing: overflow))")
            #expect(try await Self.snapshot(client) == nearTheEdge)
            await client.close()
            server.signal()
            coordinator.signal()
            #expect(try await server.exitStatus(timeout: .seconds(10)) == 0)
            #expect(try await coordinator.exitStatus(timeout: .seconds(10)) == 0)
        }

        @Test func coordinatorRefusesBadInput() async throws {
            let coordinator = try RunningProcess("coordinator", ["coordinator", "--bind", "tcp://127.0.0.1:0"] + Self.job)
            defer { coordinator.stop() }
            let endpoint = listeningAddress(try await coordinator.line { $0.hasPrefix("listening ") })
            let cases: [(String, [[UInt8]], StatusCode)] = [
                ("malformed envelope", [[0x0A, 0xFF]], .invalidArgument),
                ("unknown method", [Self.envelope(42)], .unimplemented),
                ("server method", [Self.envelope(Method.push.rawValue)], .unimplemented),
                ("malformed body", [Self.envelope(Method.register.rawValue, body: [0xFF])], .invalidArgument),
                ("unknown role", [Self.envelope(Method.register.rawValue, body: [0x08, 0x09])], .invalidArgument),
                ("server without address", [Self.envelope(Method.register.rawValue, body: RegisterRequest(role: .server, address: "", instance: "x").encoded())], .invalidArgument),
                ("unknown node heartbeat", [Self.envelope(Method.heartbeat.rawValue, body: HeartbeatRequest(nodeID: 99).encoded())], .notFound),
                ("unknown node barrier", [Self.envelope(Method.barrier.rawValue, body: BarrierRequest(name: "b", nodeID: 99).encoded())], .notFound),
                ("payload frames", [Self.envelope(Method.getShardMap.rawValue, tensors: [Self.header()]), Self.floats([1, 2, 3, 4])], .invalidArgument),
            ]
            for (name, frames, expected) in cases {
                let reply = try #require(try await Self.exchange(endpoint, frames), "\(name): no reply")
                #expect(reply.status == expected, "\(name): \(reply.status) \(reply.statusMessage)")
            }
            // Still serving, and nothing was registered by the bad requests.
            let status = try #require(try await Self.exchange(endpoint, [Self.envelope(Method.clusterStatus.rawValue)]))
            #expect(status.status == .ok)
            #expect(try ClusterStatusReply(decoding: status.body).nodes.isEmpty)
            coordinator.signal()
            #expect(try await coordinator.exitStatus(timeout: .seconds(10)) == 0)
        }

        struct Value: Equatable {
            var values: [Float]
            var version: UInt64
        }

        /// Every key's values (bit patterns compared through Float's ==, with no NaN present) and version.
        static func snapshot(_ client: ParameterServerClient) async throws -> [UInt64: Value] {
            let tensors = try await client.pull(Self.keys)
            var result: [UInt64: Value] = [:]
            for tensor in tensors {
                let values = tensor.frame.withBytes { Array($0.bindMemory(to: Float.self)) }
                result[tensor.header.key] = Value(values: values, version: tensor.header.version)
            }
            return result
        }
    }
}
