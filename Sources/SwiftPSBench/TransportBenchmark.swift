import Foundation
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSServer

/// `swiftps bench transport`: push (SGD applied) and pull goodput and the small-request rate against one server on
/// loopback, each next to raw ZeroMQ request/ack of the same bytes measured in the same run.
public enum TransportBenchmark {
    struct Size {
        var label: String
        var bytes: Int
    }

    static let sizes = [Size(label: "4KiB", bytes: 4 << 10), Size(label: "1MiB", bytes: 1 << 20),
                        Size(label: "4MiB", bytes: 4 << 20), Size(label: "64MiB", bytes: 64 << 20)]
    /// Requests kept in flight for goodput figures, and for the small-request rate.
    static let goodputWindow = 4
    static let rateWindow = 32
    static let rounds = Measure.rounds

    /// Tensors are cut into chunks of at most this many bytes, as the job's placement does (BytePS uses 4 MB):
    /// libzmq then receives into buffers malloc reuses instead of fresh pages for every huge frame.
    static let chunkBytes = 4 << 20

    /// - Parameter only: run only the figures whose names contain this text (nil: all).
    public static func run(secondsPerRound: Double, json: Bool, only: String? = nil) async throws {
        let report = Report(json: json)
        let round = Duration.milliseconds(Int64(secondsPerRound * 1000))
        if !json {
            emit("transport benchmark: one server on loopback, median of \(rounds) rounds of \(secondsPerRound) s; baseline: raw ZeroMQ DEALER/ROUTER, same bytes and frames")
        }
        let wanted = { (name: String) in only.map { name.contains($0) } ?? true }
        // Goodput in bytes/s by size label, swiftps's and the raw baseline's.
        var push: [String: (swiftps: Double, raw: Double)] = [:], pull: [String: (swiftps: Double, raw: Double)] = [:]
        for size in sizes where wanted("push_goodput_\(size.label)") || wanted("pull_goodput_\(size.label)") {
            try await withServer(holding: size) { client, chunks in
                let gradient = FloatBuffer(count: size.bytes / 4, repeating: 1e-3)
                let tensors = chunks.map {
                    OutgoingTensor(key: $0.key, count: $0.count, payload: Payload(gradient, offset: $0.offset, count: $0.count))
                }
                let keys = chunks.map(\.key)
                // The baseline sends the same messages, as many in flight: a push above 4 MiB goes as several
                // requests (RequestParts), a few at a time (ParameterServerClient.partsInFlight); a pull is one request.
                let parts = RequestParts.ranges(byteCounts: tensors.map(\.payload.bytes.count))
                let partBytes = size.bytes / parts.count, partFrames = parts[0].count
                let rawWindow = goodputWindow * min(parts.count, ParameterServerClient.partsInFlight)

                if wanted("push_goodput_\(size.label)") {
                    let pushes = try await median { try await rate(window: goodputWindow, duration: round) { _ = try await client.push(tensors) } }
                    let rawPush = try await median {
                        try await raw(request: partBytes, reply: 16, frames: partFrames, requestMemory: size.bytes,
                                      window: rawWindow, duration: round)
                    }
                    push[size.label] = (pushes * Double(size.bytes), rawPush * Double(partBytes))
                    report.figure("push_goodput_\(size.label)", pushes * Double(size.bytes) / 1e9, "GB/s", rawPush * Double(partBytes) / 1e9)
                }

                if wanted("pull_goodput_\(size.label)") {
                    let pulls = try await median { try await rate(window: goodputWindow, duration: round) { _ = try await client.pull(keys) } }
                    let rawPull = try await median {
                        try await raw(request: 16, reply: size.bytes, frames: chunks.count, window: goodputWindow, duration: round)
                    }
                    pull[size.label] = (pulls * Double(size.bytes), rawPull * Double(size.bytes))
                    report.figure("pull_goodput_\(size.label)", pulls * Double(size.bytes) / 1e9, "GB/s", rawPull * Double(size.bytes) / 1e9)
                }
            }
        }
        // 64 MiB over 4 MiB, next to the same ratio of the raw baseline (which reads as much distinct memory).
        for (name, goodput) in [("push", push), ("pull", pull)] {
            if let big = goodput["64MiB"], let small = goodput["4MiB"] {
                report.figure("\(name)_goodput_64MiB_over_4MiB", big.swiftps / small.swiftps, "ratio", big.raw / small.raw)
            }
        }
        guard wanted("push_rate_4KiB") else { return }
        try await withServer(holding: sizes[0]) { client, chunks in
            let small = FloatBuffer(count: chunks[0].count, repeating: 1e-3)
            let smallTensor = OutgoingTensor(key: chunks[0].key, count: chunks[0].count, payload: Payload(small))
            let pushRate = try await median {
                try await pipelinedRate(window: rateWindow, duration: round) { client.startPush([smallTensor]) }
            }
            let rawRate = try await median { try await raw(request: sizes[0].bytes, reply: 16, window: rateWindow, duration: round) }
            report.figure("push_rate_4KiB", pushRate, "requests/s", rawRate)
        }
    }

    /// Runs `body` against a server of its own that holds one tensor of `size`, cut into chunks as the job's
    /// placement does, with a client of its own.
    ///
    /// Every size starts from a fresh server, connection and ZeroMQ contexts (so fresh I/O threads), as each raw
    /// baseline round does: a figure does not depend on what the sizes before it left behind. (On one shared server
    /// a 64 MiB push measured after the 4 MiB pulls ran about 10% slower than alone; the README has the figures.)
    /// One context per side (so one libzmq I/O thread each), as in two processes; the raw baseline does the same.
    private static func withServer(holding size: Size,
                                   _ body: (ParameterServerClient, [Chunk]) async throws -> Void) async throws {
        let params = [ParamSpec(name: size.label, count: size.bytes / 4, fanIn: 0)]
        let chunks = Placement.chunks(params: params, chunkElements: chunkBytes / 4, servers: [0])
        let store = ParameterStore(chunks: chunks, params: params, seed: 1,
                                   optimizer: OptimizerConfig(kind: .sgd, learningRate: 1e-6))
        let server = try RPCServer(context: ZMQContext(), bind: "tcp://127.0.0.1:0", handler: ParameterServerHandler(store: store))
        let client = try ParameterServerClient(context: ZMQContext(), endpoint: server.endpoint)
        do {
            try await body(client, chunks)
        } catch {
            await stop(client, server)
            throw error
        }
        await stop(client, server)
    }

    private static func stop(_ client: ParameterServerClient, _ server: RPCServer) async {
        await client.close()
        await server.stop()
    }

    /// Completed calls per second with `window` calls in flight, each from a task of its own.
    static func rate(window: Int, duration: Duration, _ call: @escaping @Sendable () async throws -> Void) async throws -> Double {
        try await call()  // warm up: connect, grow the buffers a steady state reuses
        let start = ContinuousClock.now, end = start + duration
        let count = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<window {
                group.addTask {
                    var done = 0
                    while ContinuousClock.now < end {
                        try await call()
                        done += 1
                    }
                    return done
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(count) / (ContinuousClock.now - start).seconds
    }

    /// Completed calls per second with `window` calls in flight from one task, each started as soon as the oldest
    /// completes (as a pipelined worker keeps its pushes in flight).
    static func pipelinedRate(window: Int, duration: Duration, _ start: () -> PendingCall) async throws -> Double {
        _ = try await start().value()  // warm up: connect
        var inFlight = (0..<window).map { _ in start() }
        var oldest = 0, count = 0
        let begin = ContinuousClock.now, end = begin + duration
        while ContinuousClock.now < end {
            _ = try await inFlight[oldest].value()
            count += 1
            inFlight[oldest] = start()
            oldest = (oldest + 1) % window
        }
        for call in inFlight { _ = try await call.value() }
        return Double(count) / (ContinuousClock.now - begin).seconds
    }

    static func raw(request: Int, reply: Int, frames: Int = 1, requestMemory: Int? = nil, window: Int,
                    duration: Duration) async throws -> Double {
        let (count, seconds) = try await onDedicatedThread {
            try RawZMQBaseline.measure(requestBytes: request, replyBytes: reply, frames: frames,
                                       requestMemory: requestMemory, window: window, duration: duration)
        }
        return Double(count) / seconds
    }
}
