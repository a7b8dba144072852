import Foundation
import Testing
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSServer
import SwiftPSModel

extension Integration {
    /// Seeded random messages, from garbage frames to well-formed envelopes with wrong parts, against a real server
    /// and coordinator: each gets an answer, and the process keeps serving with its state sound.
    @Suite struct Fuzz {
        typealias BadInput = Integration.BadInput

        /// The job's chunks (`BadInput.job`) and their element counts.
        static let counts = Dictionary(uniqueKeysWithValues: Placement.chunks(
            tensors: MLP.tensors(layerSizes: [4, 3, 2]), chunkElements: 4, servers: [1]).map { ($0.key, $0.count) })

        /// One random message: a quarter garbage frames; the rest envelopes of one of `methods` that are mostly
        /// well formed (known keys, matching counts, sizes and frame numbers, a valid body) with one part or another
        /// wrong now and then, so that requests get past the first checks and some are applied. Payload values are
        /// random bits for the 16-bit and compressed dtypes, and sometimes NaN, ±Inf or -0 for f32.
        static func randomMessage(_ rng: inout SplitMix64, methods: [Int]) -> [[UInt8]] {
            func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
            func rarely() -> Bool { below(10) == 0 }
            func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
            if below(4) == 0 { return (0...below(3)).map { _ in bytes(below(48)) } }
            let method = methods[below(methods.count)]
            let keys = BadInput.keys.shuffled(using: &rng).prefix(below(4))
            var headers: [TensorHeader] = [], payloads: [[UInt8]] = []
            for (index, key) in keys.enumerated() {
                let dtype = rarely() ? 1 + below(6) : [DType.f32, .f32, .f32, .bf16, .f16, .int8][below(6)].rawValue
                let count = rarely() ? below(8) : counts[key]!
                headers.append(TensorHeader(key: rarely() ? rng.next() : key, dtypeRaw: dtype, count: UInt64(count),
                                            frame: UInt32(rarely() ? below(5) : index + 1), version: 0))
                let size = switch DType(rawValue: dtype) {
                case .f32?, .bf16?, .f16?: count * DType(rawValue: dtype)!.byteWidth
                case .int8?: GradientCodec.payloadBytes(.int8, count: count)
                default: below(40)
                }
                // Besides NaN and Inf, finite values large enough that a few updates would pass the largest fp32.
                let special: [Float] = [.nan, .infinity, -.infinity, -0.0, .greatestFiniteMagnitude, -3e38]
                payloads.append(dtype == DType.f32.rawValue && !rarely()
                    ? BadInput.floats((0..<count).map { _ in rarely() ? special[below(special.count)] : Float(rng.nextNormal()) })
                    : bytes(rarely() ? below(40) : size))
            }
            if method == Method.pull.rawValue && !rarely() { (headers, payloads) = ([], []) }  // keys go in the body
            if rarely() { payloads.append(bytes(below(16))) }
            if rarely(), !payloads.isEmpty { payloads.removeLast() }
            let body: [UInt8] = switch Method(rawValue: method) {
            case _ where rarely(): bytes(below(16))
            case .pull?: PullRequest(keys: Array(keys), dtype: [.f32, .bf16, .f16][below(3)]).encoded()
            case .pushPull?: PushPullRequest(dtype: [.f32, .bf16, .f16][below(3)], workerRank: UInt32(below(3))).encoded()
            case .heartbeat?: HeartbeatRequest(nodeID: UInt32(below(4))).encoded()
            default: []
            }
            return [BadInput.envelope(method, body: body, tensors: headers)] + payloads
        }

        @Test func serverAnswersRandomMessagesAndStaysSound() async throws {
            let coordinator = try RunningProcess("coordinator", ["coordinator", "--bind", "tcp://127.0.0.1:0"] + BadInput.job)
            defer { coordinator.stop() }
            let address = listeningAddress(try await coordinator.line { $0.hasPrefix("listening ") })
            let server = try RunningProcess("server", ["server", "--coordinator", address, "--bind", "tcp://127.0.0.1:0"])
            defer { server.stop() }
            let endpoint = listeningAddress(try await server.line { $0.hasPrefix("listening ") })
            _ = try await server.line(.stderr) { $0.contains("serving 7 chunks") }

            var rng = SplitMix64(seed: 2026)
            let methods = [Method.push, .pull, .pushPull, .stats, .register].map(\.rawValue) + [0, 99]
            for index in 0..<1000 {
                let message = Self.randomMessage(&rng, methods: methods)
                #expect(try await BadInput.exchange(endpoint, message) != nil, "message \(index) got no answer: \(message)")
            }

            // Whatever was applied, the weights are finite (NaN, Inf and updates past the largest fp32 were refused),
            // and a push still gives the exact numbers: SGD, lr 0.5, from where the fuzzing left each key.
            let client = try ParameterServerClient(context: ZMQContext(), endpoint: endpoint)
            let before = try await BadInput.snapshot(client)
            #expect(before.values.allSatisfy { $0.values.allSatisfy(\.isFinite) })
            let g: [Float] = [1, 2, 3, 4]
            let buffer = FloatBuffer(count: 4)
            _ = buffer.buffer.update(fromContentsOf: g)
            _ = try await client.push([OutgoingTensor(key: BadInput.key, count: 4, payload: Payload(buffer))])
            let after = try await BadInput.snapshot(client)
            #expect(after[BadInput.key]!.values == zip(before[BadInput.key]!.values, g).map { w, g in w - Float(0.5) * g })
            #expect(after[BadInput.key]!.version == before[BadInput.key]!.version + 1)
            for key in BadInput.keys where key != BadInput.key { #expect(after[key] == before[key]) }
            await client.close()
            server.signal()
            #expect(try await server.exitStatus(timeout: .seconds(10)) == 0)
        }

        /// Barrier and Finish are left out: a random node id that a random Register made real could hold a barrier
        /// open or end the job, both of which are the coordinator doing its work.
        @Test func coordinatorAnswersRandomMessagesAndKeepsServing() async throws {
            let coordinator = try RunningProcess("coordinator", ["coordinator", "--bind", "tcp://127.0.0.1:0"] + BadInput.job)
            defer { coordinator.stop() }
            let endpoint = listeningAddress(try await coordinator.line { $0.hasPrefix("listening ") })
            var rng = SplitMix64(seed: 27)
            let methods = [Method.register, .heartbeat, .getShardMap, .clusterStatus, .push].map(\.rawValue) + [0, 99]
            for index in 0..<1000 {
                let message = Self.randomMessage(&rng, methods: methods)
                #expect(try await BadInput.exchange(endpoint, message) != nil, "message \(index) got no answer: \(message)")
            }
            let status = try #require(try await BadInput.exchange(endpoint, [BadInput.envelope(Method.clusterStatus.rawValue)]))
            #expect(status.status == .ok)
            coordinator.signal()
            #expect(try await coordinator.exitStatus(timeout: .seconds(10)) == 0)
        }
    }
}
