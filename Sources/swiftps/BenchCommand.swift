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

    @Option(help: "Seconds to measure each figure (median of 5 rounds).")
    var seconds: Double = 1.0

    func run() async throws {
        try await TransportBenchmark.run(secondsPerFigure: seconds, json: json)
    }
}
