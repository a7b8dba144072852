import Foundation
import Testing

extension Integration {
    /// `--micro-batches` and `--max-inflight` over real processes, and the end-of-run time split.
    @Suite struct Pipelining {
        /// Runs `swiftps local` on a 100,000-sample job; the summary's fields and the printed output.
        func local(_ extra: [String]) async throws -> (fields: [String: Double], stdout: String) {
            let summary = FileManager.default.temporaryDirectory.appendingPathComponent("summary-\(UUID()).json")
            defer { try? FileManager.default.removeItem(at: summary) }
            let local = try RunningProcess("local", ["local", "--servers", "2", "--workers", "2", "--train-samples", "100000",
                                                     "--epochs", "1", "--skip-standalone", "--min-accuracy", "0.85",
                                                     "--summary-json", summary.path] + extra)
            defer { local.stop() }
            #expect(try await local.exitStatus(timeout: .seconds(180)) == 0, "\(local.stderr)")
            return (try resultFields(String(decoding: try Data(contentsOf: summary), as: UTF8.self)), local.stdout)
        }

        /// Four micro-batches per mini-batch and two steps in flight still learn, and the summary splits the time.
        @Test func microBatchesAndTwoStepsInFlightLearn() async throws {
            let (fields, stdout) = try await local(["--micro-batches", "4", "--max-inflight", "2"])
            #expect(try #require(fields["accuracy"]) >= 0.9)
            for key in ["compute_ms", "push_ms", "pull_ms"] { #expect(try #require(fields[key]) > 0, "\(key)") }
            #expect(stdout.contains("where the workers' time went"))
            for row in ["compute", "communication", "waiting (barrier)", "total"] { #expect(stdout.contains(row), "\(row)") }
        }

        /// No overlap (push and pull after the whole backward) learns as well: the serial baseline.
        @Test func noOverlapLearns() async throws {
            let (fields, _) = try await local(["--max-inflight", "0"])
            #expect(try #require(fields["accuracy"]) >= 0.9)
        }

        /// Flags that cannot work are refused before anything starts.
        @Test func badPipelineFlagsAreUsageErrors() async throws {
            for flags in [["--micro-batches", "5"], ["--micro-batches", "0"], ["--max-inflight", "-1"], ["--max-inflight", "x"],
                          ["--consistency", "bsp", "--max-inflight", "2"], ["--consistency", "ssp:x"]] {
                let process = try RunningProcess("local", ["local"] + flags)
                defer { process.stop() }
                #expect(try await process.exitStatus(timeout: .seconds(10)) == 64, "\(flags)")
            }
        }
    }
}
