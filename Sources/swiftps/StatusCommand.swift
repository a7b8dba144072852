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

    @OptionGroup var keys: KeyOptions

    func validate() throws {
        try checkCoordinator(coordinator)
        _ = try keys.security(.operator)
    }

    func run() async throws {
        let client = try CoordinatorClient(context: ZMQContext(), endpoint: coordinator, security: try keys.security(.operator))
        do {
            let status = try await client.clusterStatus()
            await client.close()
            let header = ["ID", "ROLE", "RANK", "STATE", "CLOCK", "HEARTBEAT", "RATE/S", "ADDRESS"]
            let rows = status.nodes.map { n in
                ["\(n.id)", n.role.description, "\(n.rank)", n.state.description, "\(n.clock)",
                 "\(n.millisSinceHeartbeat)ms", String(format: "%.1f", n.samplesPerSecond), n.address.isEmpty ? "-" : n.address]
            }
            print(Self.table([header] + rows), terminator: "")
            print(status.jobFinished ? "job finished" : "job running")
        } catch {
            await client.close()
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// Rows as lines whose columns are padded to their widest cell, two spaces apart (the last column unpadded).
    static func table(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column] + 2, withPad: " ", startingAt: 0)
            }.joined() + "\n"
        }.joined()
    }
}
