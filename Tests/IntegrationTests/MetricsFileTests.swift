import Foundation
import Testing

extension Integration {
    /// `swiftps worker --metrics-file`: a header with the job, a record per push, evaluations; and `--accumulate`.
    @Suite struct MetricsFile {
        /// Parameters of a 16,64,10 MLP: 16·64 + 64 + 64·10 + 10.
        static let parameters = 1738

        struct Run {
            var records: [[String: Any]]
            var result: [String: Double]
            var progress: [String: Double]
            var text: String

            var header: [String: Any] { records.first ?? [:] }
            var job: [String: Any] { header["job"] as? [String: Any] ?? [:] }
            var steps: [[String: Any]] { records.filter { $0["type"] as? String == "step" } }
            var evals: [[String: Any]] { records.filter { $0["type"] as? String == "eval" } }
        }

        /// Coordinator (with `job`), then a worker writing a metrics file (`file`, or a new one), then a server; the
        /// file and the worker's output.
        static func run(_ job: [String], worker extra: [String] = [], coordinatorEnv: [String: String] = [:],
                        workerEnv: [String: String] = [:], file: URL? = nil) async throws -> Run {
            let path = file ?? FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID()).jsonl")
            defer { try? FileManager.default.removeItem(at: path) }
            let coordinator = try RunningProcess("coordinator", ["coordinator", "--bind", "tcp://127.0.0.1:0"] + job,
                                                 environment: coordinatorEnv)
            defer { coordinator.stop() }
            let address = listeningAddress(try await coordinator.line { $0.hasPrefix("listening ") })
            let metricsFlag = workerEnv["SWIFTPS_METRICS_FILE"] == nil ? ["--metrics-file", path.path] : []
            let worker = try RunningProcess("worker", ["worker", "--coordinator", address] + metricsFlag + extra,
                                            environment: workerEnv)
            defer { worker.stop() }
            let server = try RunningProcess("server", ["server", "--coordinator", address, "--bind", "tcp://127.0.0.1:0"])
            defer { server.stop() }
            let result = try resultFields(try await worker.line { $0.hasPrefix("result ") })
            #expect(try await worker.exitStatus() == 0, "\(worker.stderr)")
            #expect(try await server.exitStatus(timeout: .seconds(30)) == 0, "\(server.stderr)")
            #expect(try await coordinator.exitStatus(timeout: .seconds(30)) == 0, "\(coordinator.stderr)")
            let progress = try resultFields(String(try await worker.line { $0.hasPrefix("progress ") }.dropFirst(9)))
            let text = String(decoding: try Data(contentsOf: path), as: UTF8.self)
            let records = try text.split(separator: "\n").map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            }
            return Run(records: records, result: result, progress: progress, text: text)
        }

        static func number(_ record: [String: Any], _ key: String) -> Double? { (record[key] as? NSNumber)?.doubleValue }

        /// Every record of a one-worker f32 run, against the flags that made it.
        @Test func recordsDescribeTheRun() async throws {
            let job = ["--servers", "1", "--workers", "1", "--epochs", "1", "--train-samples", "4000", "--test-samples",
                       "1000", "--layers", "16,64,10", "--batch-size", "32", "--accumulate", "2", "--seed", "7",
                       "--optimizer", "sgd", "--lr", "0.1", "--chunk-elements", "500", "--max-inflight", "1"]
            let run = try await Self.run(job, worker: ["--eval-every", "10"])
            #expect(run.text.hasSuffix("\n"))
            #expect(run.header["type"] as? String == "header")
            #expect(Self.number(run.header, "rank") == 0)
            #expect(Self.number(run.header, "node_id") != nil)
            #expect(Self.number(run.header, "parameters") == Double(Self.parameters))
            let expected: [String: Double] = ["seed": 7, "servers": 1, "workers": 1, "epochs": 1, "train_samples": 4000,
                                              "test_samples": 1000, "batch_size": 32, "accumulate": 2,
                                              "chunk_elements": 500, "heartbeat_timeout_ms": 5000]
            for (key, value) in expected { #expect(Self.number(run.job, key) == value, "job.\(key)") }
            #expect(run.job["model"] as? String == "mlp:16,64,10")
            #expect(run.job["wire_dtype"] as? String == "f32")
            #expect(run.job["allow_nonfinite"] as? Bool == false)
            #expect(run.job["consistency"] as? String == "async")
            #expect(run.job["compression"] as? String == "none")
            #expect(Self.number(run.job, "micro_batches") == 1 && Self.number(run.job, "max_inflight") == 1)
            let optimizer = try #require(run.job["optimizer"] as? [String: Any])
            #expect(optimizer["kind"] as? String == "sgd")
            #expect(Self.number(optimizer, "learning_rate") == 0.1)

            // 4000 samples / 32 = 125 mini-batches; in pairs: 62 pushes (the odd one out is skipped).
            let steps = run.steps
            #expect(steps.count == 62)
            #expect(Self.number(run.header, "steps") == 62)
            #expect(run.progress["steps"] == 62)
            #expect(steps.compactMap { Self.number($0, "step") } == (1...62).map(Double.init))
            for (i, step) in steps.enumerated() {
                let at = "step \(i + 1)"
                #expect(Self.number(step, "epoch") == 0, "\(at)")
                #expect(try #require(Self.number(step, "compute_ms")) > 0, "\(at)")
                #expect(try #require(Self.number(step, "push_ms")) > 0, "\(at)")
                #expect(try #require(Self.number(step, "samples_per_second")) > 0, "\(at)")
                #expect(try #require(Self.number(step, "loss")) > 0, "\(at)")
                #expect(Self.number(step, "bytes_sent") == Double(Self.parameters * 4), "\(at)")
                // Pipelined (--max-inflight 1): a step takes the values its previous push produced. Step 1 takes
                // the initial pull instead; the last also takes its own push's reply and the final pull.
                let pulls = i == steps.count - 1 ? 3 : 1
                #expect(Self.number(step, "bytes_received") == Double(pulls * Self.parameters * 4), "\(at)")
                #expect(Self.number(step, "staleness") == 0, "\(at)")
                #expect(Self.number(step, "clock_lag") == 0, "\(at)")
                #expect(try #require(Self.number(step, "pull_ms")) > 0, "\(at)")
                #expect(((Self.number(step, "wait_ms") ?? -1) > 0) == (i == steps.count - 1), "\(at): the barrier")
            }
            #expect(run.records.last?["type"] as? String == "eval")
            #expect(run.evals.compactMap { Self.number($0, "step") } == [10, 20, 30, 40, 50, 60, 62])
            let final = try #require(run.evals.last)
            #expect(Self.number(final, "accuracy") == run.result["accuracy"])
            #expect(Self.number(final, "loss") == run.result["loss"])
            #expect(try #require(run.result["accuracy"]) > 0.3)
            #expect(run.result["samples"] == Double(62 * 32 * 2))
        }

        /// A 16-bit wire halves the bytes; the environment stands in for --accumulate and --metrics-file.
        @Test func bf16HalvesTheBytesAndEnvironmentWorks() async throws {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID()).jsonl")
            let job = ["--servers", "1", "--workers", "1", "--epochs", "1", "--train-samples", "4000", "--test-samples",
                       "1000", "--layers", "16,64,10", "--wire-dtype", "bf16"]
            let run = try await Self.run(job, coordinatorEnv: ["SWIFTPS_ACCUMULATE": "3"],
                                         workerEnv: ["SWIFTPS_METRICS_FILE": file.path], file: file)
            #expect(Self.number(run.job, "accumulate") == 3)
            #expect(run.job["wire_dtype"] as? String == "bf16")
            #expect(run.steps.count == 20)  // 62 mini-batches of 64, in threes
            for step in run.steps { #expect(Self.number(step, "bytes_sent") == Double(Self.parameters * 2)) }
            #expect(Self.number(try #require(run.evals.last), "accuracy") == run.result["accuracy"])
            #expect(run.evals.count == 1)
        }

        /// A metrics file that cannot be created fails the worker at once, naming the path.
        @Test func unwritablePathFailsBeforeJoining() async throws {
            let address = "tcp://127.0.0.1:\(try freePort())"
            let worker = try RunningProcess("worker", ["worker", "--coordinator", address, "--metrics-file",
                                                       "/nonexistent-dir/metrics.jsonl"])
            #expect(try await worker.exitStatus(timeout: .seconds(10)) == 1)
            #expect(worker.stderr.contains("cannot open metrics file /nonexistent-dir/metrics.jsonl"), "\(worker.stderr)")
        }

        @Test func accumulateMustBePositive() async throws {
            let process = try RunningProcess("swiftps", ["coordinator", "--accumulate", "0"])
            #expect(try await process.exitStatus(timeout: .seconds(30)) == 64)
            #expect(process.stderr.contains("--accumulate must be positive"), "\(process.stderr)")
        }
    }
}
