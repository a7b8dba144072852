import ArgumentParser
import Foundation
import SwiftPSCore
import SwiftPSTransport
import SwiftPSCoordinator

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print the cluster as the coordinator sees it: each node's role, address, state, clock, heartbeat.")

    @Option(help: "Coordinator address, tcp://HOST:PORT. (env: SWIFTPS_COORDINATOR)")
    var coordinator: String = env("SWIFTPS_COORDINATOR") ?? ""

    func validate() throws {
        try checkCoordinator(coordinator)
    }

    func run() async throws {
        let client = try CoordinatorClient(context: ZMQContext(), endpoint: coordinator)
        do {
            let status = try await client.clusterStatus()
            await client.close()
            print("ID  ROLE    RANK  STATE     CLOCK     HEARTBEAT  RATE/S     ADDRESS")
            for n in status.nodes {
                print(String(format: "%-3d %-7@ %-5d %-9@ %-9llu %-10@ %-10.1f %@", n.id, n.role.description, n.rank,
                             n.state.description, n.clock, "\(n.millisSinceHeartbeat)ms ago", n.samplesPerSecond,
                             n.address.isEmpty ? "-" : n.address))
            }
            print(status.jobFinished ? "job finished" : "job running")
        } catch {
            await client.close()
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
