import ArgumentParser
import SwiftPSBench

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures next to a baseline measured in the same run.",
        subcommands: [TransportBench.self])
}

struct TransportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport",
        abstract: "Push (with SGD applied) and pull goodput against one server on loopback, vs raw ZeroMQ request/ack.")

    @Flag(help: "One JSON object per figure: {name, value, unit, baseline, ratio}.")
    var json = false

    @Option(help: "Seconds per measuring round; each figure is the median of 5 rounds.")
    var seconds: Double = 0.3

    @Option(help: "Only the figures whose names contain this text, e.g. rate, 64MiB, pull_goodput.")
    var only: String?

    func validate() throws {
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
    }

    func run() async throws {
        try await TransportBenchmark.run(secondsPerRound: seconds, json: json, only: only)
    }
}
