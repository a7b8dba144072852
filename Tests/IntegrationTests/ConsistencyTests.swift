import Foundation
import Testing

extension Integration {
    /// `--consistency async|bsp|ssp:S` over real processes: reproducible BSP, SSP's bound, a dead worker under BSP,
    /// and a worker joining a running job.
    @Suite struct Consistency {
        static let job = ["--layers", "32,128,10", "--train-samples", "40000", "--test-samples", "2000", "--epochs", "1"]

        /// The step records of a metrics file.
        static func steps(_ path: URL) throws -> [[String: Any]] {
            try String(decoding: Data(contentsOf: path), as: UTF8.self).split(separator: "\n").compactMap { line in
                let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return record?["type"] as? String == "step" ? record : nil
            }
        }

        static func number(_ record: [String: Any], _ key: String) -> Double { (record[key] as? NSNumber)?.doubleValue ?? .nan }

        static func metricsPath() -> URL {
            FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID()).jsonl")
        }

        /// A coordinator for `job` and one server; returns the coordinator's address.
        static func startJob(_ job: [String]) async throws -> (RunningProcess, RunningProcess, String) {
            let coordinator = try RunningProcess("coordinator", ["coordinator", "--bind", "tcp://127.0.0.1:0"] + job)
            let address = listeningAddress(try await coordinator.line { $0.hasPrefix("listening ") })
            let server = try RunningProcess("server", ["server", "--coordinator", address, "--bind", "tcp://127.0.0.1:0"])
            return (coordinator, server, address)
        }

        static func worker(_ name: String, _ address: String, metrics: URL) throws -> RunningProcess {
            try RunningProcess(name, ["worker", "--coordinator", address, "--metrics-file", metrics.path,
                                      "--progress-every", "1"])
        }

        /// `swiftps local` under BSP; returns the final model's digest.
        func bspDigest(servers: Int, job: [String] = Self.job, minAccuracy: Double = 0.8) async throws -> String {
            let summary = FileManager.default.temporaryDirectory.appendingPathComponent("summary-\(UUID()).json")
            defer { try? FileManager.default.removeItem(at: summary) }
            let local = try RunningProcess("local", ["local", "--servers", "\(servers)", "--workers", "2",
                                                     "--consistency", "bsp", "--skip-standalone", "--min-accuracy", "\(minAccuracy)",
                                                     "--summary-json", summary.path] + job)
            defer { local.stop() }
            #expect(try await local.exitStatus(timeout: .seconds(120)) == 0, "\(local.stderr)")
            let fields = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: summary)) as? [String: Any])
            #expect(fields["consistency"] as? String == "bsp")
            let digests = try #require(fields["model_digests"] as? [String])
            #expect(digests.count == 1, "both workers end with the same model")
            return digests.first ?? ""
        }

        /// Two BSP runs with the same seed end bit-identical, and so does a run with 1 server instead of 2.
        @Test func bspRunsAreBitIdenticalAcrossRunsAndServerCounts() async throws {
            let first = try await bspDigest(servers: 2)
            let second = try await bspDigest(servers: 2)
            let oneServer = try await bspDigest(servers: 1)
            #expect(first.count == 16)
            #expect(second == first)
            #expect(oneServer == first)
        }

        /// A hidden layer of 4.5 MiB: one server takes its push in two requests (the first with `more`), each of two
        /// servers in one. BSP rounds close on the step's final part, and the model ends bit-identical either way.
        @Test func bspPushesInPartsMatchAcrossServerCounts() async throws {
            let wide = ["--layers", "16,70000,10", "--train-samples", "12000", "--test-samples", "2000", "--epochs", "1"]
            let oneServer = try await bspDigest(servers: 1, job: wide)
            let twoServers = try await bspDigest(servers: 2, job: wide)
            #expect(oneServer.count == 16)
            #expect(oneServer == twoServers)
        }

        /// `--chunk-elements 1`: layer 0's push to the one server is 76,500 chunks of one float, more tensors than a
        /// server takes in one request (65,536). It goes in parts of at most 8,192, and the model ends bit-identical
        /// to the same job in the default chunks. Twenty steps, so the model does not learn much: no accuracy bar.
        @Test func tinyChunksTrainToTheSameModel() async throws {
            let job = ["--layers", "16,4500,10", "--train-samples", "2560", "--test-samples", "500", "--epochs", "1"]
            let tiny = try await bspDigest(servers: 1, job: job + ["--chunk-elements", "1"], minAccuracy: 0)
            let usual = try await bspDigest(servers: 1, job: job, minAccuracy: 0)
            #expect(tiny.count == 16)
            #expect(tiny == usual)
        }

        /// ssp:1 — rank 0 starts alone, so its first values lag by exactly 1 clock and its next wait for rank 1;
        /// no pull of either worker ever lags by more than 1.
        @Test func sspPullsNeverLagMoreThanTheBound() async throws {
            let (coordinator, server, address) = try await Self.startJob(Self.job + ["--workers", "2", "--consistency", "ssp:1"])
            defer { coordinator.stop(); server.stop() }
            let paths = [Self.metricsPath(), Self.metricsPath()]
            defer { for path in paths { try? FileManager.default.removeItem(at: path) } }
            let first = try Self.worker("worker0", address, metrics: paths[0])
            defer { first.stop() }
            _ = try await first.line { $0.hasPrefix("progress ") && $0.contains(#""step":1,"#) }
            let second = try Self.worker("worker1", address, metrics: paths[1])
            defer { second.stop() }
            #expect(try await first.exitStatus() == 0, "\(first.stderr)")
            #expect(try await second.exitStatus() == 0, "\(second.stderr)")
            let lags = try paths.map { try Self.steps($0).map { Self.number($0, "clock_lag") } }
            #expect(lags[0].max() == 1, "rank 0 computed clock 1 while rank 1 had pushed nothing")
            #expect(lags.allSatisfy { !$0.isEmpty && $0.allSatisfy { (0...1).contains($0) } },
                    "max lag \(lags.map { $0.max() ?? -1 })")
            #expect(try await coordinator.exitStatus(timeout: .seconds(30)) == 0)
        }

        /// BSP with a worker frozen mid-run (SIGSTOP): after its heartbeat timeout the coordinator drops it, the servers
        /// stop waiting for its clock, and the other worker finishes the job. Woken up, the dropped worker stops at
        /// once with an error that says so.
        @Test func bspGoesOnWithoutADeadWorker() async throws {
            let (coordinator, server, address) = try await Self.startJob(
                Self.job + ["--workers", "2", "--consistency", "bsp", "--heartbeat-timeout-ms", "1000"])
            defer { coordinator.stop(); server.stop() }
            let paths = [Self.metricsPath(), Self.metricsPath()]
            defer { for path in paths { try? FileManager.default.removeItem(at: path) } }
            let survivor = try Self.worker("worker0", address, metrics: paths[0])
            defer { survivor.stop() }
            let victim = try Self.worker("worker1", address, metrics: paths[1])
            defer { victim.stop() }
            _ = try await victim.line { $0.hasPrefix("progress ") && $0.contains(#""step":5,"#) }
            victim.signal(SIGSTOP)
            let result = try resultFields(try await survivor.line(timeout: .seconds(120)) { $0.hasPrefix("result ") })
            victim.signal(SIGCONT)
            #expect(try await victim.exitStatus(timeout: .seconds(20)) != 0)
            #expect(victim.stderr.contains("dropped"), "\(victim.stderr)")
            #expect(try #require(result["accuracy"]) > 0.6)
            #expect(try await survivor.exitStatus() == 0, "\(survivor.stderr)")
            #expect(try await server.exitStatus(timeout: .seconds(30)) == 0, "\(server.stderr)")
            #expect(try await coordinator.exitStatus(timeout: .seconds(30)) == 0)
            #expect(coordinator.stderr.contains("missed heartbeats"), "\(coordinator.stderr)")
            #expect(server.stderr.contains("dropped by the coordinator: no clock waits for them"), "\(server.stderr)")
            let lags = try Self.steps(paths[0]).map { Self.number($0, "clock_lag") }
            #expect(lags.count > 5 && lags.allSatisfy { $0 == 0 }, "BSP serves no stale weights")
        }

        /// A worker joining a running (BSP) job gets the next rank, starts from the current weights and takes part
        /// in the rounds; the job ends when it too is done.
        @Test func aWorkerJoinsARunningJobFromTheCurrentWeights() async throws {
            // 200,000 samples: 3,125 steps, so that the job is still running when the joiner attaches.
            let longer = ["--layers", "32,128,10", "--train-samples", "200000", "--test-samples", "2000", "--epochs", "1"]
            let (coordinator, server, address) = try await Self.startJob(longer + ["--workers", "1", "--consistency", "bsp"])
            defer { coordinator.stop(); server.stop() }
            let paths = [Self.metricsPath(), Self.metricsPath()]
            defer { for path in paths { try? FileManager.default.removeItem(at: path) } }
            let first = try Self.worker("worker0", address, metrics: paths[0])
            defer { first.stop() }
            _ = try await first.line { $0.hasPrefix("progress ") && $0.contains(#""step":100,"#) }
            let joiner = try Self.worker("joiner", address, metrics: paths[1])
            defer { joiner.stop() }
            #expect(try await first.exitStatus() == 0, "\(first.stderr)")
            #expect(try await joiner.exitStatus() == 0, "\(joiner.stderr)")
            #expect(try await coordinator.exitStatus(timeout: .seconds(30)) == 0)
            #expect(coordinator.stderr.contains("(rank 1) registered, joining the running job"), "\(coordinator.stderr)")
            let losses = try paths.map { try Self.steps($0).map { Self.number($0, "loss") } }
            let startLoss = try #require(losses[0].first), joinLoss = try #require(losses[1].first)
            #expect(joinLoss < 0.6 * startLoss, "the joiner's first loss \(joinLoss) vs a fresh model's \(startLoss)")
            let steps = try #require(try Self.steps(paths[0]).last.map { Self.number($0, "step") })
            #expect(steps == 3125, "worker 0 ran all its steps: 200000 / 64")
        }
    }
}
