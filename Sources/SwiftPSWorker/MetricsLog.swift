import SwiftPSCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One push of a worker, as the metrics file reports it.
///
/// Every exchange and wait of the run lands in exactly one record, so that sums over the file are the run's totals:
/// - `pushMs`: sending the step's pushes — staging, 16-bit conversion or compression, handing them to the sockets
///   (the pipeline sends a layer at a time, during backward).
/// - `pullMs`: blocked until pushes' replies (which carry the new values) are in, and decoding them — the
///   communication the pipeline did not hide; plus the whole-model pulls at the start (step 1) and after the
///   barrier (the last step).
/// - `waitMs`: time blocked on anything but compute and the servers: the end-of-training barrier (last step).
/// - `computeMs`: forward and backward over the step's mini-batches; `dataMs`: copying them out of the data set.
/// - `samplesPerSecond`: this step's samples over its data + compute + push time.
struct StepRecord {
    var step = 0
    var epoch = 0
    /// Mean loss over the step's samples (all accumulated mini-batches), before the push.
    var loss = 0.0
    var samplesPerSecond = 0.0
    var dataMs = 0.0
    var computeMs = 0.0
    var pushMs = 0.0
    var pullMs = 0.0
    var waitMs = 0.0
    var bytesSent = 0
    var bytesSentUncompressed = 0
    var bytesReceived = 0
    var staleness = 0
    /// How many clocks the slowest worker lagged the clock this worker computes next (see `ExchangeStats`).
    var clockLag = 0
    /// Seconds since training started, at the end of the step.
    var timeS = 0.0

    /// Adds another record's times (for run totals).
    mutating func accumulateTimes(_ other: StepRecord) {
        dataMs += other.dataMs
        computeMs += other.computeMs
        pushMs += other.pushMs
        pullMs += other.pullMs
        waitMs += other.waitMs
    }

    mutating func add(_ stats: ExchangeStats) {
        bytesSent += stats.bytesSent
        bytesSentUncompressed += stats.bytesSentUncompressed
        bytesReceived += stats.bytesReceived
        staleness = max(staleness, stats.staleness)
        clockLag = max(clockLag, stats.clockLag)
    }
}

/// `--metrics-file`: JSON lines — a header with the job, then a record per push, then evaluations.
///
/// Each line goes to the file in one `write(2)` as soon as it is made (no user-space buffer), so a crash loses at
/// most the line being made. A failed write is logged once and ends the log; it never stops training.
final class MetricsLog {
    let path: String
    private var fd: Int32
    private let log: Log

    /// Creates (or truncates) the file now, so that a bad path fails before the worker joins the job.
    /// - Throws: `SwiftPSError(.invalidArgument)` when the file cannot be opened for writing.
    init(path: String, log: Log) throws {
        self.path = path
        self.log = log
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SwiftPSError(.invalidArgument, "cannot open metrics file \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The job as the coordinator handed it out (every `JobConfig` field), and who this worker is.
    func header(job: JobConfig, rank: Int, nodeID: UInt32, version: String?, parameters: Int, steps: Int) {
        var optimizer = JSONObject()
        optimizer.add("kind", "\(job.optimizer.kind)")
        optimizer.add("learning_rate", job.optimizer.learningRate)
        optimizer.add("momentum", job.optimizer.momentum)
        optimizer.add("beta1", job.optimizer.beta1)
        optimizer.add("beta2", job.optimizer.beta2)
        optimizer.add("epsilon", job.optimizer.epsilon)
        optimizer.add("weight_decay", job.optimizer.weightDecay)
        var config = JSONObject()
        config.add("seed", job.seed)
        config.add("model", job.plan.model)
        config.add("tensors", job.tensors.count)
        config.add("optimizer", optimizer)
        config.add("chunk_elements", job.chunkElements)
        config.add("servers", job.servers)
        config.add("workers", job.workers)
        config.add("batch_size", job.plan.batchSize)
        config.add("accumulate", job.plan.accumulate)
        config.add("epochs", job.plan.epochs)
        config.add("train_samples", job.plan.trainSamples)
        config.add("test_samples", job.plan.testSamples)
        config.add("heartbeat_timeout_ms", job.heartbeatTimeoutMs)
        config.add("allow_nonfinite", job.allowNonFinite)
        config.add("wire_dtype", job.wireDType.description)
        config.add("compression", job.plan.compression.description)
        config.add("consistency", job.consistency.description)
        config.add("micro_batches", job.plan.microBatches)
        config.add("max_inflight", job.plan.maxInflight)
        config.add("train_data", job.plan.trainData)
        config.add("test_data", job.plan.testData)
        var line = JSONObject()
        line.add("type", "header")
        line.add("swiftps_version", version)
        line.add("rank", rank)
        line.add("node_id", nodeID)
        line.add("parameters", parameters)
        line.add("steps", steps)
        line.add("job", config)
        append(line)
    }

    func step(_ record: StepRecord) {
        var line = JSONObject()
        line.add("type", "step")
        line.add("step", record.step)
        line.add("epoch", record.epoch)
        line.add("loss", record.loss)
        line.add("samples_per_second", rounded(record.samplesPerSecond, 1))
        line.add("data_ms", rounded(record.dataMs, 4))
        line.add("compute_ms", rounded(record.computeMs, 4))
        line.add("push_ms", rounded(record.pushMs, 4))
        line.add("pull_ms", rounded(record.pullMs, 4))
        line.add("wait_ms", rounded(record.waitMs, 4))
        line.add("bytes_sent", record.bytesSent)
        line.add("bytes_sent_uncompressed", record.bytesSentUncompressed)
        line.add("bytes_received", record.bytesReceived)
        line.add("staleness", record.staleness)
        line.add("clock_lag", record.clockLag)
        line.add("time_s", rounded(record.timeS, 6))
        append(line)
    }

    /// The model this worker holds after `step` pushes, on the held-out set.
    func eval(step: Int, accuracy: Double, loss: Double, milliseconds: Double) {
        var line = JSONObject()
        line.add("type", "eval")
        line.add("step", step)
        line.add("accuracy", accuracy)
        line.add("loss", loss)
        line.add("eval_ms", rounded(milliseconds, 4))
        append(line)
    }

    /// `value` to `decimals` places (timings to a tenth of a microsecond): finer digits are noise that hides the rest.
    private func rounded(_ value: Double, _ decimals: Int) -> Double {
        let scale = pow(10, Double(decimals))
        return (value * scale).rounded() / scale
    }

    private func append(_ object: JSONObject) {
        guard fd >= 0 else { return }
        var text = object.description + "\n"
        let failure: Int32? = text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let failure {
            log.error("metrics file \(path): \(String(cString: strerror(failure))); no more metrics are written")
            close(fd)
            fd = -1
        }
    }
}
