import Foundation
import Testing
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSServer

extension Integration {
    /// A real server's memory under peers that hold it hostage: one that never reads its replies, and ones that send
    /// frames or messages larger than the server takes. Its RSS stays within the stated bound while a worker trains.
    @Suite struct MemoryBounds {
        /// 64-1024-1024-10: 1.1 M floats, so one pull of every key is 4.4 MB of replies.
        static let job = ["--servers", "1", "--workers", "1", "--layers", "64,1024,1024,10", "--epochs", "4",
                          "--train-samples", "20000", "--test-samples", "1000"]

        /// Resident and peak resident bytes of process `pid`.
        static func memory(_ pid: Int32) throws -> (rss: Int, peak: Int) {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            func kib(_ field: String) -> Int {
                let line = status.split(separator: "\n").first { $0.hasPrefix(field) } ?? ""
                return (Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0) << 10
            }
            return (kib("VmRSS:"), kib("VmHWM:"))
        }

        /// With the cap, the hog pins at most about the cap; without it (a cap it never reaches), the same hog pins
        /// hundreds of MiB: the measurement can tell the two apart.
        @Test(arguments: [(64, true), (100_000, false)])
        func aPeerThatNeverReadsPinsAtMostItsCap(capMiB: Int, bounded: Bool) async throws {
            let coordinator = try RunningProcess("coordinator", ["coordinator", "--bind", "tcp://127.0.0.1:0"] + Self.job)
            defer { coordinator.stop() }
            let address = listeningAddress(try await coordinator.line { $0.hasPrefix("listening ") })
            let server = try RunningProcess("server", ["server", "--coordinator", address, "--bind", "tcp://127.0.0.1:0",
                                                       "--max-peer-mib", "\(capMiB)", "--max-memory-mib", "100000"])
            defer { server.stop() }
            let endpoint = listeningAddress(try await server.line { $0.hasPrefix("listening ") })
            let worker = try RunningProcess("worker", ["worker", "--coordinator", address, "--progress-every", "20"])
            defer { worker.stop() }
            _ = try await worker.line { $0.hasPrefix("progress ") }
            let before = try Self.memory(server.pid).rss

            // 300 pulls of every key, 4 ms apart while the worker pushes, so that each reply holds weights of another
            // version (1.3 GB if all were kept), from a peer that reads none of them.
            let keys = Placement.chunks(tensors: [TensorSpec(name: "a", shape: [64, 1024]), TensorSpec(name: "b", shape: [1024]),
                                                  TensorSpec(name: "c", shape: [1024, 1024]), TensorSpec(name: "d", shape: [1024]),
                                                  TensorSpec(name: "e", shape: [1024, 10]), TensorSpec(name: "f", shape: [10])],
                                        chunkElements: 65_536, servers: [1]).map(\.key)
            let pull = Envelope(requestID: 1, method: .pull, body: PullRequest(keys: keys).encoded()).encoded()
            let hog = HandedOver(try RawDealer(context: ZMQContext(), endpoint: endpoint, receiveHighWater: 1))
            try await onDedicatedThread {
                for _ in 0..<300 {
                    try hog.value.send([pull])
                    usleep(4000)
                }
            }
            // The worker is served meanwhile; its next progress line comes after the hog's last pull was read.
            _ = try await worker.line { $0.hasPrefix("progress ") && !$0.contains(#""step":20,"#) }
            let grown = try Self.memory(server.pid).rss - before
            if bounded {
                #expect(grown < (capMiB + 48) << 20, "the hog pinned \(grown >> 20) MiB beyond the server's \(before >> 20) MiB")
            } else {
                #expect(grown > 256 << 20, "without a cap the hog pins \(grown >> 20) MiB: the bounded case means something")
            }
            let result = try resultFields(try await worker.line(timeout: .seconds(120)) { $0.hasPrefix("result ") })
            #expect(try #require(result["accuracy"]) > 0.85)
            #expect(try await worker.exitStatus() == 0)
            withExtendedLifetime(hog) {}
        }

        @Test func framesAndMessagesAboveTheLimitAreRefusedWithoutKeepingTheirMemory() async throws {
            let coordinator = try RunningProcess("coordinator", ["coordinator", "--bind", "tcp://127.0.0.1:0"] + Self.job)
            defer { coordinator.stop() }
            let address = listeningAddress(try await coordinator.line { $0.hasPrefix("listening ") })
            let server = try RunningProcess("server", ["server", "--coordinator", address, "--bind", "tcp://127.0.0.1:0"])
            defer { server.stop() }
            let endpoint = listeningAddress(try await server.line { $0.hasPrefix("listening ") })
            _ = try await server.line(.stderr) { $0.contains("serving") }
            let before = try Self.memory(server.pid)

            // Four peers, each one 200 MiB frame, above the 64 MiB frame limit: libzmq drops each peer as soon as the
            // frame's header says its size, before it allocates it.
            let big = [UInt8](repeating: 7, count: 200 << 20)
            let envelope = Envelope(requestID: 1, method: .push, tensors: [TensorHeader(key: 0, dtype: .f32, count: 50 << 20, frame: 1)]).encoded()
            let peers = HandedOver(try (0..<4).map { _ in try RawDealer(context: ZMQContext(), endpoint: endpoint) })
            try await onDedicatedThread {
                for peer in peers.value {
                    try peer.send([envelope, big])
                    #expect(peer.receive(timeout: .milliseconds(500)) == nil, "a frame above the limit gets no answer")
                }
            }
            // One message of three 60 MiB frames: each under the frame limit, 180 MiB together. libzmq assembles it
            // whole (the true bound: frames × the frame limit), then the server refuses it and lets it go.
            let part = [UInt8](repeating: 1, count: 60 << 20)
            let three = Envelope(requestID: 2, method: .push, tensors: (0..<3).map {
                TensorHeader(key: 0, dtype: .f32, count: 15 << 20, frame: $0 + 1)
            }).encoded()
            for round in 0..<3 {  // again and again: what is kept must not grow
                let refusal = try await onDedicatedThread { () throws -> Envelope? in
                    let dealer = try RawDealer(context: ZMQContext(), endpoint: endpoint)
                    try dealer.send([three, part, part, part])
                    guard let reply = dealer.receive(timeout: .seconds(10)) else { return nil }
                    return try reply[0].withUnsafeBytes { (bytes) throws(SwiftPSError) in try Envelope(decoding: bytes) }
                }
                #expect(refusal?.status == .resourceExhausted, "round \(round): \(String(describing: refusal?.statusMessage))")
            }
            let after = try Self.memory(server.pid)
            #expect(after.peak - before.peak < 200 << 20, "peak grew by \((after.peak - before.peak) >> 20) MiB")
            // Measured: about one frame's worth (60 MiB) stays resident after the first refused message, and no more
            // after further ones.
            #expect(after.rss - before.rss < (64 + 16) << 20, "\((after.rss - before.rss) >> 20) MiB held after three refusals")
            // And the server still serves.
            let client = try ParameterServerClient(context: ZMQContext(), endpoint: endpoint)
            #expect(try await client.stats().rejected >= 1)
            await client.close()
            withExtendedLifetime(peers) {}
        }
    }
}

/// A value used by one thread at a time, handed to another through thread creation (the full memory barrier
/// libzmq asks for when a socket changes thread). `@unchecked Sendable` for that hand-over alone.
final class HandedOver<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
