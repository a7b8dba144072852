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

    /// The largest chunk, in floats, unless `--chunk-elements` says otherwise: 4 MiB of fp32, as BytePS partitions at
    /// 4 MB. Tensors are cut by the job's placement code (`Placement.chunks`), so libzmq receives into buffers malloc
    /// reuses rather than fresh pages for every huge frame. A job's own default is 65,536 floats (256 KiB).
    public static let defaultChunkElements = 1 << 20

    /// Raw ZeroMQ's 64 MiB push and pull with every frame sent from one 4 MiB buffer, which stays in cache, against
    /// the same from 64 MiB of distinct memory: how much of the drop from 4 MiB is reading memory beyond the cache.
    /// (With chunks larger than 4 MiB, the buffer is one chunk.)
    static let fromCacheFigures = ["raw_push_goodput_64MiB_from_cache", "raw_pull_goodput_64MiB_from_cache"]

    /// Every figure this benchmark measures, in the order it prints them.
    public static let figureNames = sizes.flatMap { ["push_goodput_\($0.label)", "pull_goodput_\($0.label)"] }
        + ["push_rate_4KiB"] + fromCacheFigures

    /// With `--security curve`: libsodium's XSalsa20-Poly1305 over 4 KiB and 4 MiB messages, against memcpy of the
    /// same bytes (the floor under CurveZMQ's cost).
    static let secretboxFigures = ["secretbox_4KiB", "secretbox_4MiB"]

    /// How the benchmark's client and server connect.
    public enum Security: String, Sendable, CaseIterable {
        /// Plain TCP, no authentication: the figures' baseline is raw ZeroMQ.
        case none
        /// CurveZMQ with keys admitted by a ZAP handler, as a job with `--keys`: the baseline is the same swiftps
        /// figure with no security, measured in the same process.
        case curve
    }

    /// The figures measured with `security`.
    public static func figureNames(_ security: Security) -> [String] {
        security == .none ? figureNames
            : sizes.flatMap { ["push_goodput_\($0.label)", "pull_goodput_\($0.label)"] } + ["push_rate_4KiB"] + secretboxFigures
    }

    /// Measures each figure in a process of its own (this executable, `bench transport --figure NAME`) and prints
    /// it, then the 64 MiB over 4 MiB ratios.
    ///
    /// One process per figure, because a figure measured in a process that had already run the others depended on
    /// them: a 4 MiB push measured after the 4 KiB push phase, against a server, connection and threads of its own,
    /// ran at 0.74–0.78 of raw ZeroMQ against 0.93–0.94 measured alone (medians of 5–8 interleaved pairs, twice),
    /// and with jemalloc instead of glibc's malloc the gap mostly closed (4.98 against 5.26 GB/s, 6 pairs). Each
    /// server and worker of a job is a process of its own too.
    /// - Parameter only: run only the figures whose names contain this text (nil: all).
    /// - Parameter chunkElements: the largest chunk of a tensor, in floats, as a job's `--chunk-elements`.
    public static func run(secondsPerRound: Double, json: Bool, only: String? = nil,
                           chunkElements: Int = defaultChunkElements, security: Security = .none) async throws {
        let report = Report(json: json)
        let baseline = security == .none ? "raw ZeroMQ DEALER/ROUTER, same bytes and frames"
            : "the same swiftps figure with no security, in the same process (secretbox: memcpy of the same bytes)"
        report.note("transport benchmark: one server on loopback, security \(security), each figure in a process of its own, median of \(rounds) rounds of \(secondsPerRound) s, chunks of at most \(chunkElements) floats; baseline: \(baseline)")
        var measured: [String: Figure] = [:]
        for name in figureNames(security) where only.map({ name.contains($0) }) ?? true {
            let figure = try await measureInChild(name, secondsPerRound: secondsPerRound, chunkElements: chunkElements,
                                                  security: security)
            report.figure(figure.name, figure.value, figure.unit, figure.baseline)
            measured[name] = figure
        }
        // 64 MiB over 4 MiB, next to the same ratio of the raw baseline (which reads as much distinct memory).
        for kind in ["push", "pull"] {
            if let big = measured["\(kind)_goodput_64MiB"], let small = measured["\(kind)_goodput_4MiB"] {
                report.figure("\(kind)_goodput_64MiB_over_4MiB", big.value / small.value, "ratio", big.baseline / small.baseline)
            }
        }
    }

    /// One figure as a child prints it.
    struct Figure: Decodable {
        var name: String
        var value: Double
        var unit: String
        var baseline: Double
    }

    /// Runs `bench transport --figure NAME` as a child process and reads the figure it prints; the child's errors go
    /// to this process's standard error.
    private static func measureInChild(_ name: String, secondsPerRound: Double, chunkElements: Int,
                                       security: Security) async throws -> Figure {
        try await onDedicatedThread {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            child.arguments = ["bench", "transport", "--figure", name, "--seconds", "\(secondsPerRound)",
                               "--chunk-elements", "\(chunkElements)", "--security", security.rawValue]
            let output = Pipe()
            child.standardOutput = output
            try child.run()
            let printed = output.fileHandleForReading.readDataToEndOfFile()
            child.waitUntilExit()
            guard child.terminationStatus == 0, let figure = try? JSONDecoder().decode(Figure.self, from: printed) else {
                throw SwiftPSError(.internal, "measuring \(name) in a child process failed (exit status "
                                   + "\(child.terminationStatus), output \(String(decoding: printed, as: UTF8.self).debugDescription))")
            }
            return figure
        }
    }

    /// Measures one figure in this process and prints it as JSON (what `run` starts a child process for).
    public static func measure(figure name: String, secondsPerRound: Double,
                               chunkElements: Int = defaultChunkElements, security: Security = .none) async throws {
        let report = Report(json: true)
        let round = Duration.milliseconds(Int64(secondsPerRound * 1000))
        if secretboxFigures.contains(name) {
            let bytes = name.hasSuffix("4MiB") ? 4 << 20 : 4 << 10
            let (boxes, copies) = Measure.medians({ SecretboxBaseline.rate(bytes: bytes, duration: round) },
                                                  { SecretboxBaseline.copyRate(bytes: bytes, duration: round) })
            report.figure(name, boxes * Double(bytes) / 1e9, "GB/s", copies * Double(bytes) / 1e9)
            return
        }
        if name == "push_rate_4KiB" {
            func pushRate(_ mode: Security) async throws -> Double {
                try await withServer(holding: sizes[0], chunkElements: chunkElements, security: mode) { client, chunks in
                    let small = FloatBuffer(count: chunks[0].count, repeating: 1e-3)
                    let smallTensor = OutgoingTensor(key: chunks[0].key, count: chunks[0].count, payload: Payload(small))
                    return try await median {
                        try await pipelinedRate(window: rateWindow, duration: round) { client.startPush([smallTensor]) }
                    }
                }
            }
            let measured = try await pushRate(security)
            let baseline = security == .none
                ? try await median { try await raw(request: sizes[0].bytes, reply: 16, window: rateWindow, duration: round) }
                : try await pushRate(.none)
            report.figure(name, measured, "requests/s", baseline)
            return
        }
        if fromCacheFigures.contains(name) {
            let size = sizes[3], (_, chunks) = tensor(of: size, chunkElements: chunkElements)
            // Every frame must fit the buffer: one chunk, if a chunk is larger than 4 MiB.
            let source = max(sizes[2].bytes, chunks.map { $0.count * 4 }.max()!)
            let measureRaw = name.contains("push") ? rawPush : rawPull
            let fromCache = try await median { try await measureRaw(size, chunks, source, round) }
            let distinct = try await median { try await measureRaw(size, chunks, nil, round) }
            report.figure(name, fromCache, "GB/s", distinct)
            return
        }
        guard let size = sizes.first(where: { name == "push_goodput_\($0.label)" || name == "pull_goodput_\($0.label)" }) else {
            throw SwiftPSError(.invalidArgument, "no figure \(name); the figures are \(figureNames.joined(separator: ", "))")
        }
        /// swiftps's goodput of this figure with `mode`, in GB/s.
        func goodput(_ mode: Security) async throws -> Double {
            try await withServer(holding: size, chunkElements: chunkElements, security: mode) { client, chunks in
                if name.hasPrefix("push") {
                    let gradient = FloatBuffer(count: size.bytes / 4, repeating: 1e-3)
                    let tensors = chunks.map {
                        OutgoingTensor(key: $0.key, count: $0.count, payload: Payload(gradient, offset: $0.offset, count: $0.count))
                    }
                    let pushes = try await median { try await rate(window: goodputWindow, duration: round) { _ = try await client.push(tensors) } }
                    return pushes * Double(size.bytes) / 1e9
                }
                let keys = chunks.map(\.key)
                let pulls = try await median { try await rate(window: goodputWindow, duration: round) { _ = try await client.pull(keys) } }
                return pulls * Double(size.bytes) / 1e9
            }
        }
        let measured = try await goodput(security)
        let baseline: Double
        if security != .none {
            baseline = try await goodput(.none)
        } else {
            let chunks = tensor(of: size, chunkElements: chunkElements).chunks
            baseline = try await median {
                try await (name.hasPrefix("push") ? rawPush : rawPull)(size, chunks, nil, round)
            }
        }
        report.figure(name, measured, "GB/s", baseline)
    }

    /// Raw ZeroMQ sending the messages of a push of `size` with as many in flight, in GB/s: a push above 4 MiB goes
    /// as several requests (RequestParts), a few at a time (ParameterServerClient.partsInFlight). The requests go
    /// from `sourceBytes` of memory (nil: the whole tensor's).
    private static func rawPush(_ size: Size, _ chunks: [Chunk], sourceBytes: Int?, round: Duration) async throws -> Double {
        let parts = RequestParts.ranges(byteCounts: chunks.map { $0.count * 4 })
        let partBytes = size.bytes / parts.count
        let window = goodputWindow * min(parts.count, ParameterServerClient.partsInFlight)
        let rate = try await raw(request: partBytes, reply: 16, frames: parts[0].count,
                                 requestMemory: sourceBytes ?? size.bytes, window: window, duration: round)
        return rate * Double(partBytes) / 1e9
    }

    /// Raw ZeroMQ answering a pull of `size` as swiftps does, in GB/s: one request, answered with every chunk as a
    /// frame. The reply goes from `sourceBytes` of memory (nil: the whole tensor's).
    private static func rawPull(_ size: Size, _ chunks: [Chunk], sourceBytes: Int?, round: Duration) async throws -> Double {
        let rate = try await raw(request: 16, reply: size.bytes, frames: chunks.count, replyMemory: sourceBytes,
                                 window: goodputWindow, duration: round)
        return rate * Double(size.bytes) / 1e9
    }

    /// A tensor of `size`, and its chunks as the job's placement cuts them, all on one server.
    private static func tensor(of size: Size, chunkElements: Int) -> (params: [TensorSpec], chunks: [Chunk]) {
        let params = [TensorSpec(name: size.label, shape: [size.bytes / 4])]
        return (params, Placement.chunks(tensors: params, chunkElements: chunkElements, servers: [0]))
    }

    /// Runs `body` against a server of its own that holds one tensor of `size`, cut into chunks as the job's
    /// placement does, with a client of its own.
    ///
    /// One context per side (so one libzmq I/O thread each), as in two processes; the raw baseline does the same.
    private static func withServer<R>(holding size: Size, chunkElements: Int, security: Security = .none,
                                      _ body: (ParameterServerClient, [Chunk]) async throws -> R) async throws -> R {
        let (params, chunks) = tensor(of: size, chunkElements: chunkElements)
        var serving = TransportSecurity.open, connecting = TransportSecurity.open
        if security == .curve {  // keys made for the run, as `swiftps keygen` writes them
            let cluster = try CurveKeyPair.generate(), worker = try CurveKeyPair.generate()
            serving.serving = .init(keyPair: cluster, clients: [worker.publicKey: Peer(role: .worker, name: "worker")])
            connecting.connecting = .init(serverPublicKey: cluster.publicKey, keyPair: worker)
        }
        let store = ParameterStore(chunks: chunks, tensors: params, seed: 1,
                                   optimizer: OptimizerConfig(kind: .sgd, learningRate: 1e-6))
        // Whole 64 MiB chunks in one frame, and every reply the measurement queues: no limit the figure would meet.
        let limits = RequestLimits(maxMessageBytes: 1 << 30, maxQueuedBytesPerPeer: 1 << 34, maxQueuedBytes: 1 << 34)
        let server = try RPCServer(context: ZMQContext(), bind: "tcp://127.0.0.1:0", limits: limits, security: serving,
                                   handler: ParameterServerHandler(store: store))
        let client = try ParameterServerClient(context: ZMQContext(), endpoint: server.endpoint, security: connecting)
        do {
            let result = try await body(client, chunks)
            await stop(client, server)
            return result
        } catch {
            await stop(client, server)
            throw error
        }
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

    static func raw(request: Int, reply: Int, frames: Int = 1, requestMemory: Int? = nil, replyMemory: Int? = nil,
                    window: Int, duration: Duration) async throws -> Double {
        let (count, seconds) = try await onDedicatedThread {
            try RawZMQBaseline.measure(requestBytes: request, replyBytes: reply, frames: frames, requestMemory: requestMemory,
                                       replyMemory: replyMemory, window: window, duration: duration)
        }
        return Double(count) / seconds
    }
}
