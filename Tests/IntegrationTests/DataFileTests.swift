import Foundation
import Testing

extension Integration {
    /// Real data files: the cluster learns from CSV and MNIST-style IDX files, and a bad file stops the run with an
    /// error that names it.
    @Suite struct DataFiles {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftps-data-\(UUID())")

        init() throws { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }

        /// Two features, label 1 when x0 + x1 > 0: learnable to nearly 100%.
        func writeCSV(_ name: String, rows: Int, seed: UInt64) throws -> String {
            var rng = SystemRandomNumberGenerator()
            _ = seed
            var text = "x0,x1,label\n"
            for _ in 0..<rows {
                let x0 = Double.random(in: -1...1, using: &rng), x1 = Double.random(in: -1...1, using: &rng)
                text += "\(x0),\(x1),\(x0 + x1 > 0 ? 1 : 0)\n"
            }
            let path = directory.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        /// 2×2 "images"; label 1 when the top-left pixel is brighter than the bottom-right one.
        func writeIDX(_ name: String, count: Int, truncated: Bool = false) throws -> String {
            var images: [UInt8] = [0, 0, 8, 3] + bigEndian(count) + bigEndian(2) + bigEndian(2)
            var labels: [UInt8] = [0, 0, 8, 1] + bigEndian(count)
            for _ in 0..<count {
                let pixels = (0..<4).map { _ in UInt8.random(in: 0...255) }
                images += pixels
                labels.append(pixels[0] > pixels[3] ? 1 : 0)
            }
            if truncated { images.removeLast(3) }
            let base = directory.appendingPathComponent(name).path
            try Data(images).write(to: URL(fileURLWithPath: base + "-images.idx"))
            try Data(labels).write(to: URL(fileURLWithPath: base + "-labels.idx"))
            return "idx:\(base)-images.idx,\(base)-labels.idx"
        }

        func bigEndian(_ value: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(value).bigEndian) { Array($0) } }

        func runLocal(_ arguments: [String]) async throws -> (status: Int32, fields: [String: Double], stderr: String) {
            let summary = directory.appendingPathComponent("summary-\(UUID()).json")
            let local = try RunningProcess("local", ["local", "--servers", "1", "--workers", "2", "--summary-json", summary.path,
                                                     "--min-accuracy", "0.9"] + arguments)
            defer { local.stop() }
            let status = try await local.exitStatus(timeout: .seconds(300))
            let fields = (try? Data(contentsOf: summary)).flatMap { try? resultFields(String(decoding: $0, as: UTF8.self)) } ?? [:]
            return (status, fields, local.stderr)
        }

        @Test func learnsFromCSVFiles() async throws {
            defer { try? FileManager.default.removeItem(at: directory) }
            let train = try writeCSV("train.csv", rows: 4000, seed: 1), test = try writeCSV("test.csv", rows: 1000, seed: 2)
            let run = try await runLocal(["--layers", "2,16,2", "--epochs", "5", "--batch-size", "32",
                                          "--train-data", "csv:\(train)", "--test-data", "csv:\(test)"])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(try #require(run.fields["accuracy"]) > 0.95)
            #expect(try #require(run.fields["standalone_accuracy"]) > 0.95)
        }

        @Test func learnsFromIDXFiles() async throws {
            defer { try? FileManager.default.removeItem(at: directory) }
            let train = try writeIDX("train", count: 4000), test = try writeIDX("test", count: 1000)
            let run = try await runLocal(["--layers", "4,32,2", "--epochs", "5", "--batch-size", "32",
                                          "--train-data", train, "--test-data", test])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(try #require(run.fields["accuracy"]) > 0.9)
        }

        @Test func badFilesStopTheRunNamingTheFile() async throws {
            defer { try? FileManager.default.removeItem(at: directory) }
            let test = try writeCSV("test.csv", rows: 100, seed: 3)
            let missing = directory.appendingPathComponent("missing.csv").path
            let worker = try RunningProcess("worker", ["worker", "--standalone", "--layers", "2,4,2",
                                                       "--train-data", "csv:\(missing)", "--test-data", "csv:\(test)"])
            #expect(try await worker.exitStatus() == 1)
            #expect(worker.stderr.contains(missing), "\(worker.stderr)")

            let truncated = try writeIDX("cut", count: 100, truncated: true), good = try writeIDX("good", count: 100)
            let run = try await runLocal(["--layers", "4,8,2", "--train-data", truncated, "--test-data", good])
            #expect(run.status == 1)
            #expect(run.stderr.contains("cut-images.idx") && run.stderr.contains("truncated"), "\(run.stderr)")

            let wrongWidth = try await runLocal(["--layers", "3,8,2", "--train-data", good, "--test-data", good])
            #expect(wrongWidth.status == 1)
            #expect(wrongWidth.stderr.contains("4 features per sample"), "\(wrongWidth.stderr)")
        }
    }

    /// The same seed and configuration give the same data order and initial model, hence (in one process) the very
    /// same result; another seed does not.
    @Suite struct Reproducibility {
        func standalone(seed: Int) async throws -> String {
            let worker = try RunningProcess("standalone", ["worker", "--standalone", "--layers", "16,64,10", "--train-samples",
                                                           "8000", "--test-samples", "2000", "--seed", "\(seed)"])
            #expect(try await worker.exitStatus() == 0)
            let line = try await worker.line { $0.hasPrefix("result ") }
            let fields = try resultFields(line)
            return "\(fields["accuracy"]!) \(fields["loss"]!)"
        }

        @Test func sameSeedSameRun() async throws {
            let first = try await standalone(seed: 7), second = try await standalone(seed: 7), other = try await standalone(seed: 8)
            #expect(first == second)
            #expect(first != other)
        }
    }
}
