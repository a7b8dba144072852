import Foundation
import Synchronization
import SwiftPSCore
import SwiftPSWorker

/// The child processes of `swiftps local` and the progress they report.
final class LocalCluster: Sendable {
    struct Outcome {
        var accuracy: Double
        var loss: Double
        var samplesPerSecond: Double
        var seconds: Double
        /// The workers' `ModelDigest`s of the final weights (one, unless something is wrong).
        var modelDigests: [String]
        /// Where the workers' time went, summed over them.
        var times: TimeSplit
    }

    private let executable: String
    private let logDirectory: String
    private let log: Log
    private let children = Mutex<[ChildProcess]>([])
    private let progress = Mutex<[Int: (step: Int, steps: Int, loss: Double)]>([:])
    private let results = Mutex<[[String: Double]]>([])
    private let digests = Mutex<Set<String>>([])
    private let shutdown: Shutdown
    /// The key directory every child is given, with a key per worker (`worker-I`); nil: an open cluster.
    private let keys: String?

    /// - Parameter shutdown: once requested, no further child is started.
    init(executable: String, logDirectory: String, keys: String?, log: Log, shutdown: Shutdown) {
        self.executable = executable
        self.logDirectory = logDirectory
        self.keys = keys
        self.log = log
        self.shutdown = shutdown
    }

    func terminateAll() {
        for child in children.withLock({ $0 }) { child.terminate() }
    }

    /// SIGTERM to every child, then waits for each (SIGKILL after 10 s), so that none outlives `local`.
    func stopAll() async {
        terminateAll()
        for child in children.withLock({ $0 }) where await child.wait(timeout: .seconds(10)) == nil {
            log.error("\(child.name) ignored SIGTERM; killing it")
            child.forceKill()
            _ = await child.wait()
        }
    }

    /// How long the workers may go on after the coordinator or a server has left with status 0, as each does once
    /// the job has ended (by then every worker has told the coordinator it is done, and only has to exit).
    static let workersGrace = Duration.seconds(5)

    func train(job: JobOptions, config: JobConfig) async throws -> Outcome {
        // The coordinator's address, or nil once it has exited without printing one.
        let listening = OneShot<String?>()
        let keyed = keys.map { ["--keys", $0] } ?? []
        let coordinator = try start("coordinator", ["coordinator", "--bind", "tcp://127.0.0.1:0"] + keyed + job.arguments) { line in
            if line.hasPrefix("listening ") { listening.set(String(line.dropFirst("listening ".count))) }
        }
        Task { _ = await coordinator.wait(); listening.set(nil) }
        guard let address = await listening.value(timeout: .seconds(20)) ?? nil else {
            throw LocalError("the coordinator did not start:\n\(coordinator.logTail())")
        }
        let servers = try (0..<config.servers).map { index in
            try start("server-\(index)", ["server", "--coordinator", address, "--bind", "tcp://127.0.0.1:0"] + keyed) { _ in }
        }
        let workers = try (0..<config.workers).map { index in
            let key = keys == nil ? [] : ["--key", "worker-\(index)"]
            return try start("worker-\(index)", ["worker", "--coordinator", address] + keyed + key) { [self] line in record(line) }
        }
        let bar = ProgressBar()
        var statuses: [Int32] = []
        // The coordinator or a server that failed while the workers trained: every child is stopped at once. Each
        // leaves with status 0 when the job ends, a little before the last worker exits; one that left with status 0
        // while a worker still runs `Self.workersGrace` later was stopped mid-job (say, by a SIGTERM of its own).
        let failure = await withTaskGroup(of: (child: ChildProcess, status: Int32)?.self) { group in
            group.addTask { [self] in
                var leftCleanly: [String: ContinuousClock.Instant] = [:]
                while !shutdown.isRequested && workers.contains(where: \.isRunning) {
                    for child in [coordinator] + servers {
                        guard let status = child.finishedStatus else { continue }
                        let left = leftCleanly[child.name, default: .now]
                        leftCleanly[child.name] = left
                        if status != 0 || ContinuousClock.now - left > Self.workersGrace {
                            terminateAll()
                            return (child, status)
                        }
                    }
                    bar.draw(progress.withLock { Array($0.values) })
                    try? await Task.sleep(for: .milliseconds(200))
                }
                return nil
            }
            for worker in workers { statuses.append(await worker.wait()) }
            return await group.reduce(nil) { $0 ?? $1 }
        }
        bar.draw(progress.withLock { Array($0.values) }, final: true)
        if shutdown.isRequested { throw LocalError("interrupted") }
        if let (child, status) = failure {
            let what = status == 0 ? "left (status 0) and the workers were still training \(Self.workersGrace) later"
                                   : "exited with status \(status) while the workers trained"
            throw LocalError("\(child.name) \(what) (log: \(child.logPath)):\n" + child.logTail())
        }
        for (index, status) in statuses.enumerated() where status != 0 {
            terminateAll()
            throw LocalError("worker-\(index) exited with status \(status):\n\(workers[index].logTail())")
        }
        for child in [coordinator] + servers {
            if let status = await child.wait(timeout: .seconds(15)) {
                if status != 0 { log.error("\(child.name) exited with status \(status)") }
            } else {
                log.error("\(child.name) did not leave after the job ended; stopping it")
                child.terminate()
                _ = await child.wait()
            }
        }
        let all = results.withLock { $0 }
        guard all.count == config.workers else { throw LocalError("\(all.count) of \(config.workers) workers reported a result") }
        func sum(_ field: String) -> Double { all.reduce(0) { $0 + ($1[field] ?? 0) } }
        let samples = sum("samples")
        let seconds = all.map { $0["seconds"] ?? 0 }.max() ?? 0
        return Outcome(accuracy: all.map { $0["accuracy"] ?? 0 }.min() ?? 0,
                       loss: all.map { $0["loss"] ?? 0 }.max() ?? 0,
                       samplesPerSecond: samples / max(seconds, 1e-9), seconds: seconds,
                       modelDigests: digests.withLock { $0.sorted() },
                       times: TimeSplit(computeMs: sum("compute_ms"), pushMs: sum("push_ms"), pullMs: sum("pull_ms"),
                                        waitMs: sum("wait_ms")))
    }

    func standalone(job: JobOptions) async throws -> (accuracy: Double, seconds: Double) {
        let before = results.withLock { $0.count }
        let child = try start("standalone", ["worker", "--standalone"] + job.arguments) { [self] line in record(line) }
        let status = await child.wait()
        let result = results.withLock { $0.count > before ? $0.last : nil }
        guard status == 0, let result else { throw LocalError("the standalone run failed:\n\(child.logTail())") }
        return (result["accuracy"] ?? 0, result["seconds"] ?? 0)
    }

    /// Starts a child, unless shutdown has been requested: a signal that arrives while children are still being
    /// started stops those started so far (`terminateAll`), and one started after it stops itself here.
    private func start(_ name: String, _ arguments: [String],
                       onLine: @escaping @Sendable (String) -> Void) throws -> ChildProcess {
        if shutdown.isRequested { throw LocalError("interrupted") }
        let child = try ChildProcess(name: name, executable: executable, arguments: arguments,
                                     logDirectory: logDirectory, onLine: onLine)
        children.withLock { $0.append(child) }
        if shutdown.isRequested {
            child.terminate()
            throw LocalError("interrupted")
        }
        return child
    }

    private func record(_ line: String) {
        if line.hasPrefix("progress "), let fields = json(line.dropFirst(9)) {
            let rank = Int(fields["rank"] ?? 0)
            progress.withLock { $0[rank] = (Int(fields["step"] ?? 0), Int(fields["steps"] ?? 0), fields["loss"] ?? 0) }
        } else if line.hasPrefix("result "), let fields = json(line.dropFirst(7)) {
            results.withLock { $0.append(fields) }
            if let digest = line.firstMatch(of: /"model_digest":"([0-9a-f]+)"/)?.1 {
                digests.withLock { _ = $0.insert(String(digest)) }
            }
        }
    }

    private func json(_ text: Substring) -> [String: Double]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
        return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }
}

struct LocalError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
