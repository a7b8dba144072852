import Foundation
import SwiftPSCore
import SwiftPSModel

#if canImport(Glibc)
import Glibc
#endif

/// `swiftps bench memory`: the peak resident memory of a real worker and server (child processes of this
/// executable, with a coordinator: a job of 1 server and 1 worker on loopback) against the bytes they must hold.
///
/// A worker must hold the model's weights and its gradients (2× the model's fp32 bytes); a server with momentum the
/// weights and one state buffer (2× its shard). Each peak is the kernel's high-water mark of the process's resident
/// set, read as it exits (`wait4`'s `ru_maxrss`, the `VmHWM` of `/proc/PID/status`). Next to it, the process's resident
/// set at start (before the job reaches it: the server and worker are started first and wait for the coordinator),
/// which is the binary, its libraries and threads: a fixed cost that weighs on small models, not on large ones.
public enum MemoryBenchmark {
    /// One job: an MLP of `layers` with chunks of at most `chunkElements` floats.
    public struct Case: Sendable {
        public var layers: [Int]
        public var chunkElements: Int

        public init(layers: [Int], chunkElements: Int) {
            self.layers = layers
            self.chunkElements = chunkElements
        }

        var parameters: Int { MLP.tensors(layerSizes: layers).reduce(0) { $0 + $1.count } }
        var label: String {
            let millions = Double(parameters) / 1e6
            return (millions >= 10 ? String(format: "%.0fM", millions) : String(format: "%.1fM", millions))
                + "_chunks\(chunkElements)"
        }
    }

    /// The job's default `--chunk-elements`.
    public static let defaultChunkElements = JobConfig().chunkElements

    /// Runs each case as a job of its own and prints, per case, each role's resident set at start and at its peak,
    /// against the model's fp32 bytes (worker) and the weights plus optimizer state (server).
    /// - Parameters:
    ///   - samples: training samples (of 64 inputs; one epoch of batches of 64), enough for a few steps.
    ///   - timeout: how long one job may take before its processes are stopped and the benchmark fails.
    public static func run(cases: [Case], samples: Int, json: Bool, timeout: Duration = .seconds(600)) async throws {
        let report = Report(json: json)
        report.note("memory benchmark: 1 coordinator, 1 server, 1 worker on loopback, momentum, 1 epoch of \(samples) samples in batches of 64; peak = the process's resident high-water mark as it exits (wait4 ru_maxrss = VmHWM); start = VmRSS while it waits for the coordinator")
        report.note("targets: worker peak <= 2.2x the model's fp32 bytes with 65536-float chunks and <= 2.5x with 1024; server peak <= 1.1x its weights + optimizer state")
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let directory = NSTemporaryDirectory() + "swiftps-bench-memory-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for job in cases {
            let figures = try await measure(job, samples: samples, executable: executable, directory: directory, timeout: timeout)
            let modelBytes = Double(job.parameters * 4), serverBytes = modelBytes * 2  // weights + momentum
            let mib = { (bytes: Int) in Double(bytes) / Double(1 << 20) }
            report.note("\(job.label): mlp \(job.layers.map(String.init).joined(separator: ",")), \(job.parameters) parameters, \(String(format: "%.1f", modelBytes / Double(1 << 20))) MiB of fp32")
            report.share("worker_start_rss_\(job.label)", mib(figures.workerStart), "MiB", modelBytes / Double(1 << 20))
            report.share("worker_peak_rss_\(job.label)", mib(figures.worker.peakRSS), "MiB", modelBytes / Double(1 << 20))
            report.share("server_start_rss_\(job.label)", mib(figures.serverStart), "MiB", serverBytes / Double(1 << 20))
            report.share("server_peak_rss_\(job.label)", mib(figures.server.peakRSS), "MiB", serverBytes / Double(1 << 20))
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    struct Figures {
        var workerStart: Int
        var serverStart: Int
        var worker: MeasuredProcess.Exit
        var server: MeasuredProcess.Exit
    }

    /// One job: the server and worker are started first, against a coordinator address nobody listens on yet (they
    /// retry until it answers), so their resident sets can be read before the job reaches them; then the coordinator.
    static func measure(_ job: Case, samples: Int, executable: String, directory: String,
                        timeout: Duration) async throws -> Figures {
        let address = "tcp://127.0.0.1:\(try freePort())"
        let arguments = ["--servers", "1", "--workers", "1", "--layers", job.layers.map(String.init).joined(separator: ","),
                         "--optimizer", "momentum", "--batch-size", "64", "--epochs", "1",
                         "--train-samples", "\(samples)", "--test-samples", "64",
                         "--chunk-elements", "\(job.chunkElements)"]
        var started: [MeasuredProcess] = []
        func start(_ name: String, _ arguments: [String]) throws -> MeasuredProcess {
            let child = try MeasuredProcess(name: name, executable: executable, arguments: arguments,
                                            logPath: "\(directory)/\(name)-\(job.label).log")
            started.append(child)
            return child
        }
        do {
            let server = try start("server", ["server", "--coordinator", address, "--bind", "tcp://127.0.0.1:0"])
            let worker = try start("worker", ["worker", "--coordinator", address, "--progress-every", "1000000"])
            guard await server.line(timeout: .seconds(30), where: { $0.hasPrefix("listening ") }) != nil else {
                throw SwiftPSError(.internal, "the server did not start:\n\(server.logTail())")
            }
            let (workerStart, serverStart) = (await settledRSS(worker), await settledRSS(server))
            let coordinator = try start("coordinator", ["coordinator", "--bind", address] + arguments)
            guard let workerExit = await worker.wait(timeout: timeout) else {
                throw SwiftPSError(.deadlineExceeded, "the worker did not finish within \(timeout)")
            }
            guard workerExit.status == 0, worker.output.contains(where: { $0.hasPrefix("result ") }) else {
                throw SwiftPSError(.internal, "the worker exited with status \(workerExit.status):\n\(worker.logTail())")
            }
            guard let serverExit = await server.wait(timeout: .seconds(30)), serverExit.status == 0 else {
                throw SwiftPSError(.internal, "the server did not leave cleanly after the job:\n\(server.logTail())")
            }
            _ = await coordinator.wait(timeout: .seconds(30))
            await coordinator.stop()
            return Figures(workerStart: workerStart, serverStart: serverStart, worker: workerExit, server: serverExit)
        } catch {
            for child in started { await child.stop() }
            throw error
        }
    }

    /// The resident set once it has stopped growing (two reads 100 ms apart within 64 KiB; at most 3 s).
    static func settledRSS(_ process: MeasuredProcess) async -> Int {
        var last = process.currentRSS ?? 0
        for _ in 0..<30 {
            try? await Task.sleep(for: .milliseconds(100))
            let now = process.currentRSS ?? last
            if abs(now - last) < 64 << 10 { return now }
            last = now
        }
        return last
    }

    /// A TCP port on 127.0.0.1 that nothing listens on now (bound to port 0, read back, closed).
    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw SwiftPSError(.internal, "socket: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddr in
                bind(descriptor, sockaddr, length) == 0 && getsockname(descriptor, sockaddr, &length) == 0
            }
        }
        guard bound else { throw SwiftPSError(.internal, "binding a free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
