import Foundation
import Testing

extension Integration {
    /// Every benchmark runs briefly and prints only well-formed figures. Figures are not held to their targets here:
    /// a shared machine is too noisy for that.
    @Suite struct Bench {
        @Test(arguments: [["apply"], ["convert"], ["step"], ["overlap"], ["transport", "--only", "4KiB"],
                          ["transport", "--only", "push_goodput_1MiB", "--chunk-elements", "65536"],
                          ["transport", "--only", "raw_pull_goodput_64MiB_from_cache"],
                          // 64 MiB chunks: each frame larger than the 4 MiB the figure sends from (it crashed once)
                          ["transport", "--only", "raw_pull_goodput_64MiB_from_cache", "--chunk-elements", "16777216"],
                          // a few million parameters instead of 100M and 50M
                          ["memory", "--layers", "64,1500,1500,10", "--server-layers", "64,1000,1000,10"]])
        func printsWellFormedFigures(_ arguments: [String]) async throws {
            let timing = arguments.first == "memory" ? [] : ["--seconds", "0.05"]  // memory is not timed
            let bench = try RunningProcess("bench", ["bench"] + arguments + ["--json"] + timing)
            defer { bench.stop() }
            let status = try await bench.exitStatus(timeout: .seconds(300))
            #expect(status == 0, "bench \(arguments) exited \(status):\n\(bench.stderr)")
            let lines = bench.stdout.split(separator: "\n")
            #expect(!lines.isEmpty, "bench \(arguments) printed no figures")
            var names: [String] = []
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                let figure = try #require(object, "not a JSON object: \(line)")
                #expect(Set(figure.keys) == ["name", "value", "unit", "baseline", "ratio"], "\(line)")
                names.append(figure["name"] as? String ?? "")
                #expect(!names.last!.isEmpty, "\(line)")
                #expect(!(figure["unit"] as? String ?? "").isEmpty, "\(line)")
                for key in ["value", "baseline"] {
                    let number = try #require((figure[key] as? NSNumber)?.doubleValue, "\(key) in \(line)")
                    #expect(number.isFinite && number > 0, "\(key) in \(line)")
                }
                #expect((figure["ratio"] as? NSNumber)?.doubleValue.isFinite == true, "\(line)")
            }
            if arguments.first == "memory" {  // start and peak of each role, for each of the three jobs
                #expect(names.count == 12, "\(names)")
                #expect(names.allSatisfy { $0.hasPrefix("worker_") || $0.hasPrefix("server_") }, "\(names)")
            }
            if arguments.first == "transport" {  // --only: exactly the figures whose names hold its text
                #expect(names == (arguments[2] == "4KiB" ? ["push_goodput_4KiB", "pull_goodput_4KiB", "push_rate_4KiB"]
                                                          : [arguments[2]]))
            }
        }
    }
}
