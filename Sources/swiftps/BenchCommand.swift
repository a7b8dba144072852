import ArgumentParser
import SwiftPSBench

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures next to a baseline measured in the same run.",
        subcommands: [TransportBench.self, ApplyBench.self, ConvertBench.self, StepBench.self, OverlapBench.self,
                      MemoryBench.self])
}

/// The options every benchmark takes.
struct BenchOptions: ParsableArguments {
    @Flag(help: "One JSON object per figure: {name, value, unit, baseline, ratio}.")
    var json = false

    @Option(help: "Seconds per measuring round; each figure is the median of 5 rounds.")
    var seconds: Double = 0.3

    func validate() throws {
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
    }
}

struct TransportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport",
        abstract: "Push (with SGD applied) and pull goodput against one server on loopback, vs raw ZeroMQ request/ack.",
        discussion: "The last two figures are raw ZeroMQ alone: its 64 MiB push and pull sent from one 4 MiB buffer that stays in cache, against the same from 64 MiB of memory. With --security curve, each swiftps figure is measured with CurveZMQ against the same figure with no security, and libsodium's XSalsa20-Poly1305 (secretbox) against memcpy shows the floor of per-byte encryption.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Only the figures whose names contain this text, e.g. rate, 64MiB, pull_goodput.")
    var only: String?

    @Option(help: "Largest chunk of a tensor, in floats, as a job's --chunk-elements (a job's default is 65536); a power of two from 1024 to 16777216.")
    var chunkElements: Int = TransportBenchmark.defaultChunkElements

    @Option(help: "none (baseline: raw ZeroMQ) or curve (CurveZMQ with keys, as a job with --keys; baseline: the same figure with no security).")
    var security: TransportBenchmark.Security = .none

    @Option(help: .hidden)  // one figure, measured in this process: what the benchmark runs each child process for
    var figure: String?

    func validate() throws {
        // At least 4 KiB, so the 4 KiB payload stays one chunk; a power of two cuts every size into equal chunks,
        // which the baseline's equal frames assume.
        guard (1024...(1 << 24)).contains(chunkElements), chunkElements.nonzeroBitCount == 1 else {
            throw ValidationError("--chunk-elements must be a power of two from 1024 to 16777216 (got \(chunkElements))")
        }
        let names = TransportBenchmark.figureNames(security)
        if let only, !names.contains(where: { $0.contains(only) }) {
            throw ValidationError("--only '\(only)' names no figure; the figures are \(names.joined(separator: ", "))")
        }
    }

    func run() async throws {
        if let figure {
            try await TransportBenchmark.measure(figure: figure, secondsPerRound: options.seconds, chunkElements: chunkElements,
                                                 security: security)
        } else {
            try await TransportBenchmark.run(secondsPerRound: options.seconds, json: options.json, only: only,
                                             chunkElements: chunkElements, security: security)
        }
    }
}

struct ApplyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Server optimizer apply (validate + SGD, momentum, Adam) in bytes touched per second, vs memcpy.")

    @OptionGroup var options: BenchOptions

    func run() throws {
        try ApplyBenchmark.run(secondsPerRound: options.seconds, json: options.json)
    }
}

struct ConvertBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "fp32 ⇄ bf16 and fp32 ⇄ f16 conversion in fp32 bytes per second, vs memcpy of the same bytes.")

    @OptionGroup var options: BenchOptions

    func run() {
        ConvertBenchmark.run(secondsPerRound: options.seconds, json: options.json)
    }
}

struct StepBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "One worker's MLP step (forward + backward, single-threaded BLAS) vs its sgemm calls alone.")

    @OptionGroup var options: BenchOptions

    func run() {
        StepBenchmark.run(secondsPerRound: options.seconds, json: options.json)
    }
}

struct OverlapBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overlap",
        abstract: "A worker's step against a loopback server: pipelined, serial, and computation alone.")

    @OptionGroup var options: BenchOptions

    func run() async throws {
        try await OverlapBenchmark.run(secondsPerRound: options.seconds, json: options.json)
    }
}

struct MemoryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Peak resident memory of a real worker and server against the model's fp32 bytes and the weights plus optimizer state.",
        discussion: """
            Runs three jobs (1 coordinator, 1 server, 1 worker as child processes, momentum, one short epoch): --layers \
            with the default chunks and with --small-chunk-elements, and --server-layers with the default chunks. Each \
            figure is a process's resident set in MiB, at start (waiting for the coordinator) and at its peak (the \
            high-water mark as it exits); the baseline is the model's fp32 bytes for a worker, the weights plus momentum \
            (2x) for the server, and the ratio is value / baseline. Targets: worker 2.2 (default chunks), 2.5 (1,024-float \
            chunks); server 1.1.
            """)

    @Flag(help: "One JSON object per figure: {name, value, unit, baseline, ratio}.")
    var json = false

    @Option(help: "Layer sizes of the worker's model (about 100M parameters by default).")
    var layers: String = "64,10000,10000,10"

    @Option(help: "Layer sizes of the job whose server is measured (about 50M parameters by default).")
    var serverLayers: String = "64,7070,7070,10"

    @Option(help: "The small chunk size, in floats, of the second job.")
    var smallChunkElements: Int = 1024

    @Option(help: "Training samples per job (one epoch in batches of 64).")
    var trainSamples: Int = 320

    func validate() throws {
        for (flag, value) in [("--layers", layers), ("--server-layers", serverLayers)] {
            let sizes = value.split(separator: ",").compactMap { Int($0) }
            guard sizes.count >= 2, sizes.count == value.split(separator: ",").count, sizes.allSatisfy({ $0 > 0 }),
                  sizes[0] == 64, sizes.last! >= 2 else {
                throw ValidationError("\(flag) needs positive sizes, 64 inputs first and at least 2 classes last (got '\(value)')")
            }
        }
        guard smallChunkElements > 0 else { throw ValidationError("--small-chunk-elements must be positive") }
        guard trainSamples >= 64 else { throw ValidationError("--train-samples must be at least one batch of 64") }
    }

    func run() async throws {
        let sizes = { (text: String) in text.split(separator: ",").map { Int($0)! } }
        let standard = MemoryBenchmark.defaultChunkElements
        try await MemoryBenchmark.run(cases: [.init(layers: sizes(layers), chunkElements: standard),
                                              .init(layers: sizes(layers), chunkElements: smallChunkElements),
                                              .init(layers: sizes(serverLayers), chunkElements: standard)],
                                      samples: trainSamples, json: json)
    }
}

extension TransportBenchmark.Security: ExpressibleByArgument {}
