import Foundation
import Testing

extension Integration {
    @Suite struct CLI {
        @Test func badFlagsGetAUsageError() async throws {
            for arguments in [["server"], ["worker", "--coordinator", "nowhere"], ["coordinator", "--optimizer", "sgdd"],
                              ["local", "--layers", "64"], ["local", "--workers", "0"], ["bench", "transport", "--seconds", "-1"],
                              ["bench", "transport", "--chunk-elements", "1000"], ["local", "--servers", "200", "--workers", "100"],
                              ["local", "--chunk-elements", "99999999999999"], ["local", "--layers", "100000,100000,10"],
                              ["coordinator", "--train-samples", "100000000"], ["local", "--max-inflight", "99999999999"],
                              ["coordinator", "--bind", "tcp://127.0.0.1:99999"], ["worker", "--coordinator", "tcp://127.0.0.1:70000"],
                              ["status", "--coordinator", "tcp://:5555"], ["bench", "transport", "--only", "nothing"],
                              ["server", "--coordinator", "tcp://127.0.0.1:5555", "--max-message-mib", "99999999999999"]] {
                let process = try RunningProcess("swiftps", arguments)
                let status = try await process.exitStatus(timeout: .seconds(30))
                #expect(status == 64, "\(arguments) exited \(status)")
                #expect(process.stderr.contains("Error:") || process.stderr.contains("Usage:"), "\(arguments): \(process.stderr)")
            }
        }

        @Test func unreachableCoordinatorIsNamedAfterTheDeadline() async throws {
            let address = "tcp://127.0.0.1:\(try freePort())"
            let start = ContinuousClock.now
            let worker = try RunningProcess("worker", ["worker", "--coordinator", address, "--connect-timeout", "1.5"])
            let status = try await worker.exitStatus(timeout: .seconds(30))
            #expect(status == 1)
            #expect(worker.stderr.contains("no coordinator answered at \(address)"), "\(worker.stderr)")
            #expect(ContinuousClock.now - start >= .seconds(1))
        }

        @Test func helpNamesTheEnvironmentFallbacks() async throws {
            let process = try RunningProcess("swiftps", ["server", "--help"])
            #expect(try await process.exitStatus() == 0)
            #expect(process.stdout.contains("SWIFTPS_COORDINATOR"))
            #expect(process.stdout.contains("SWIFTPS_ADVERTISE"))
        }

        @Test func environmentVariablesStandInForFlags() async throws {
            let address = "tcp://127.0.0.1:\(try freePort())"
            let worker = try RunningProcess("worker", ["worker"], environment: ["SWIFTPS_COORDINATOR": address,
                                                                               "SWIFTPS_CONNECT_TIMEOUT": "0.5"])
            #expect(try await worker.exitStatus(timeout: .seconds(30)) == 1)
            #expect(worker.stderr.contains("no coordinator answered at \(address)"))
        }
    }
}
