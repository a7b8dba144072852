import ArgumentParser
import SwiftPSCore
import SwiftPSTransport
import SwiftPSCoordinator
import SwiftPSServer
import SwiftPSWorker

struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Keep membership, the shard map, heartbeats and barriers; exit when the job is over.",
        discussion: "Prints `listening ENDPOINT` on standard output once bound.")

    @Option(help: "Where to listen, tcp://HOST:PORT (port 0: any free port). (env: SWIFTPS_BIND)")
    var bind: String = env("SWIFTPS_BIND") ?? "tcp://*:7000"

    @OptionGroup var keys: KeyOptions

    @OptionGroup(title: "Job") var job: JobOptions

    func validate() throws {
        try checkEndpoint(bind, flag: "--bind", bindable: true)
        _ = try keys.security(.coordinator)
    }

    func run() async throws {
        let log = Log("coordinator")
        let shutdown = Shutdown()
        let signals = handleSignals(shutdown, log: log)
        defer { _ = signals }
        let config = try job.job()
        let security = try keys.security(.coordinator)
        try await finish(log) {
            try await CoordinatorNode.run(bind: bind, job: config, security: security, shutdown: shutdown, log: log)
        }
    }
}

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Hold a shard of the model and apply the optimizer to every push; exit when the job is over.",
        discussion: "Prints `listening ENDPOINT advertised ADDRESS` on standard output once bound.")

    @OptionGroup var node: NodeOptions

    @OptionGroup var keys: KeyOptions

    @Option(help: "Where to listen, tcp://HOST:PORT (port 0: any free port). (env: SWIFTPS_BIND)")
    var bind: String = env("SWIFTPS_BIND") ?? "tcp://*:0"

    @Option(help: "Host that other nodes use to reach this server; default: the bound address, or for a wildcard bind the local address that routes to the coordinator. (env: SWIFTPS_ADVERTISE)")
    var advertise: String = env("SWIFTPS_ADVERTISE") ?? ""

    @Option(help: "Largest request, in MiB: a message whose frames add up to more is answered RESOURCE_EXHAUSTED; a single frame above it makes libzmq drop that peer. (env: SWIFTPS_MAX_MESSAGE_MIB)")
    var maxMessageMib: Int = env("SWIFTPS_MAX_MESSAGE_MIB", 64)

    @Option(help: "Reply bytes, in MiB, that all peers together may leave unread before requests are answered RESOURCE_EXHAUSTED; 0: twice the shard's weights, at least 256. (env: SWIFTPS_MAX_MEMORY_MIB)")
    var maxMemoryMib: Int = env("SWIFTPS_MAX_MEMORY_MIB", 0)

    @Option(help: "Reply bytes, in MiB, that one peer may leave unread before its requests are answered RESOURCE_EXHAUSTED. (env: SWIFTPS_MAX_PEER_MIB)")
    var maxPeerMib: Int = env("SWIFTPS_MAX_PEER_MIB", 256)

    @Option(help: "Most tensors in one request. (env: SWIFTPS_MAX_TENSORS)")
    var maxTensors: Int = env("SWIFTPS_MAX_TENSORS", 65_536)

    func validate() throws {
        try checkEndpoint(bind, flag: "--bind", bindable: true)
        guard (1...(1 << 20)).contains(maxMessageMib), maxTensors > 0 else {
            throw ValidationError("--max-message-mib must be from 1 to 1048576 and --max-tensors positive")
        }
        guard (0...(1 << 30)).contains(maxMemoryMib), (1...(1 << 30)).contains(maxPeerMib) else {
            throw ValidationError("--max-memory-mib must be from 0 to 2^30 and --max-peer-mib from 1 to 2^30")
        }
        _ = try keys.security(.server)
    }

    func run() async throws {
        let log = Log("server")
        let shutdown = Shutdown()
        let signals = handleSignals(shutdown, log: log)
        defer { _ = signals }
        let options = ServerOptions(coordinator: node.coordinator, bind: bind, advertiseHost: advertise.isEmpty ? nil : advertise,
                                    connectTimeout: .seconds(node.connectTimeout),
                                    limits: RequestLimits(maxMessageBytes: maxMessageMib << 20, maxTensors: maxTensors,
                                                          maxQueuedBytesPerPeer: maxPeerMib << 20,
                                                          maxQueuedBytes: maxMemoryMib << 20),
                                    security: try keys.security(.server))
        try await finish(log) { try await ServerNode.run(options, shutdown: shutdown, log: log) }
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Train on this worker's part of the data against the servers, then report held-out accuracy.",
        discussion: """
            Prints `progress {json}` lines while training and `result {json}` at the end on standard output.
            With --standalone it trains the same model on the same samples in this one process instead (the
            job flags then describe the job; no coordinator is needed).
            """)

    @Option(help: "Coordinator address, tcp://HOST:PORT. (env: SWIFTPS_COORDINATOR)")
    var coordinator: String = env("SWIFTPS_COORDINATOR") ?? ""

    @Option(help: "Seconds to keep retrying until the coordinator answers. (env: SWIFTPS_CONNECT_TIMEOUT)")
    var connectTimeout: Double = env("SWIFTPS_CONNECT_TIMEOUT", 30.0)

    @Option(help: "Print a progress line every this many steps. (env: SWIFTPS_PROGRESS_EVERY)")
    var progressEvery: Int = env("SWIFTPS_PROGRESS_EVERY", 20)

    @Option(help: ArgumentHelp(
        "Write performance metrics to this file as JSON lines. (env: SWIFTPS_METRICS_FILE)",
        discussion: "A header with the job configuration, one record per step (push) with loss, samples/s, compute, push, pull and wait milliseconds, payload bytes sent and received, and staleness, then evaluations on the held-out set. Each line is written as soon as it is made."))
    var metricsFile: String = env("SWIFTPS_METRICS_FILE") ?? ""

    @Option(help: "With --metrics-file, also evaluate on the held-out set every this many steps; 0: only at the end. (env: SWIFTPS_EVAL_EVERY)")
    var evalEvery: Int = env("SWIFTPS_EVAL_EVERY", 0)

    @Flag(help: "Train in this process alone, as the baseline for the distributed run.")
    var standalone = false

    @OptionGroup var keys: KeyOptions

    @OptionGroup(title: "Job (with --standalone)") var job: JobOptions

    func validate() throws {
        if !standalone { try checkCoordinator(coordinator) }
        guard progressEvery > 0, connectTimeout > 0 else { throw ValidationError("--progress-every and --connect-timeout must be positive") }
        guard evalEvery >= 0 else { throw ValidationError("--eval-every must not be negative") }
        if standalone && !metricsFile.isEmpty { throw ValidationError("--metrics-file is for distributed workers, not --standalone") }
        if !standalone { _ = try keys.security(.worker) }
    }

    func run() async throws {
        let log = Log("worker")
        WorkerNode.configureMath()
        if standalone {
            let config = try job.job()
            try await finish(log) {
                let result = try StandaloneTrainer.run(job: config, log: log)
                emit("result \(result.json)")
            }
            return
        }
        let shutdown = Shutdown()
        let signals = handleSignals(shutdown, log: log)
        defer { _ = signals }
        let version = SwiftPS.configuration.version
        var options = WorkerOptions(coordinator: coordinator, connectTimeout: .seconds(connectTimeout),
                                    progressEvery: progressEvery, metricsFile: metricsFile.isEmpty ? nil : metricsFile,
                                    evalEvery: evalEvery, version: version.isEmpty ? nil : version)
        options.security = try keys.security(.worker)
        try await finish(log) {
            let result = try await WorkerNode.run(options, shutdown: shutdown, log: log)
            emit("result \(result.json)")
        }
    }
}

extension Duration {
    static func seconds(_ value: Double) -> Duration { .milliseconds(Int64(value * 1000)) }
}
