import ArgumentParser
import Foundation
import Synchronization
import SwiftPSCore
import SwiftPSTransport

struct LocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Start a whole cluster on this host (coordinator, servers, workers as child processes) and train.",
        discussion: """
            Shows progress, then the held-out accuracy and throughput, next to the accuracy of the same model \
            trained in one process on the same samples. Exits 0 only if the model learned \
            (accuracy >= --min-accuracy). Ctrl-C or SIGTERM stops every child. Each child's log is kept in --log-dir.
            """)

    @OptionGroup(title: "Job") var job: JobOptions

    @Option(help: "Lowest held-out accuracy that counts as learned. (env: SWIFTPS_MIN_ACCURACY)")
    var minAccuracy: Double = env("SWIFTPS_MIN_ACCURACY", 0.90)

    @Option(help: "Write {accuracy, loss, samples_per_second, seconds, ...} as JSON to this file.")
    var summaryJson: String?

    @Flag(help: "Skip the one-process baseline run.")
    var skipStandalone = false

    @Option(help: "Directory for the children's logs (default: a new temporary directory).")
    var logDir: String?

    @Flag(help: "Run the cluster open, without keys. By default local writes a fresh key set (a key per worker) into the log directory and every child connects with CurveZMQ.")
    var open = false

    /// Children `local` starts on this host at most (servers and workers; the coordinator is one more).
    static let maxChildren = 256

    func validate() throws {
        guard (0...1).contains(minAccuracy) else { throw ValidationError("--min-accuracy must be within 0...1") }
        guard job.servers + job.workers <= Self.maxChildren else {
            throw ValidationError("--servers \(job.servers) and --workers \(job.workers) would start \(job.servers + job.workers) "
                                  + "processes on this host; local starts at most \(Self.maxChildren). Start the roles "
                                  + "separately (swiftps coordinator, server, worker) to run more, on several hosts")
        }
    }

    func run() async throws {
        let log = Log("local")
        let config = try job.job()
        let directory = logDir ?? NSTemporaryDirectory() + "swiftps-local-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let shutdown = Shutdown()
        var keys: String?
        if !open {
            keys = directory + "/keys"
            try KeyDirectory.create(at: keys!, workers: config.workers)
        }
        let cluster = LocalCluster(executable: try selfExecutable(), logDirectory: directory, keys: keys, log: log,
                                   shutdown: shutdown)
        let signals = handleSignals(shutdown, log: log) { _ in cluster.terminateAll() }
        defer { _ = signals }

        log.info("starting 1 coordinator, \(config.servers) servers, \(config.workers) workers (logs in \(directory); "
                 + (keys.map { "CurveZMQ keys in \($0))" } ?? "open, no keys)"))
        let outcome: LocalCluster.Outcome
        do {
            outcome = try await cluster.train(job: job, config: config)
        } catch {
            await cluster.stopAll()
            log.error("\(error)")
            throw ExitCode(shutdown.isRequested ? 130 : 1)
        }
        var standalone: Double?
        if !skipStandalone && !shutdown.isRequested {
            log.info("training the same model in one process for comparison")
            do {
                standalone = try await cluster.standalone(job: job).accuracy
            } catch where !shutdown.isRequested {
                log.error("\(error)")
                throw ExitCode(1)
            }
        }
        if shutdown.isRequested {
            await cluster.stopAll()
            throw ExitCode(130)
        }
        report(outcome, standalone: standalone, config: config)
        if let summaryJson {
            var json = #"{"accuracy":\#(outcome.accuracy),"loss":\#(outcome.loss),"samples_per_second":\#(outcome.samplesPerSecond),"seconds":\#(outcome.seconds),"servers":\#(config.servers),"workers":\#(config.workers)"#
            if let standalone { json += #","standalone_accuracy":\#(standalone)"# }
            json += #","consistency":"\#(config.consistency)","model_digests":[\#(outcome.modelDigests.map { "\"\($0)\"" }.joined(separator: ","))]"#
            let times = outcome.times
            json += #","compute_ms":\#(times.computeMs),"push_ms":\#(times.pushMs),"pull_ms":\#(times.pullMs),"wait_ms":\#(times.waitMs)"#
            try (json + "}\n").write(toFile: summaryJson, atomically: true, encoding: .utf8)
        }
        guard outcome.accuracy >= minAccuracy else {
            log.error("the model did not learn: accuracy \(outcome.accuracy) < \(minAccuracy)")
            throw ExitCode(1)
        }
    }

    private func report(_ outcome: LocalCluster.Outcome, standalone: Double?, config: JobConfig) {
        func pct(_ value: Double) -> String { String(format: "%.2f%%", value * 100) }
        print("")
        print("held-out accuracy   \(pct(outcome.accuracy))  (\(config.servers) servers, \(config.workers) workers)")
        if let standalone {
            print("standalone accuracy \(pct(standalone))  (same model and samples, one process)")
        }
        print("held-out loss       \(String(format: "%.4f", outcome.loss))")
        print("throughput          \(String(format: "%.0f", outcome.samplesPerSecond)) samples/s over \(String(format: "%.1f", outcome.seconds)) s")
        print("")
        print("where the workers' time went (summed over \(config.workers) workers):")
        print(outcome.times.table)
    }

    private func selfExecutable() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }
}
