import ArgumentParser
import Foundation
import SwiftPSTransport

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a cluster's CurveZMQ keys: one pair the coordinator and servers serve with, one per client role.",
        discussion: """
            Writes cluster.key/.pub, server.key/.pub, worker.key/.pub and operator.key/.pub (Z85 text; .key files \
            mode 0600) into DIR. Give every role --keys DIR (or a copy holding what it needs: the coordinator \
            cluster.key and every .pub; a server cluster.key, server.key and every .pub; a worker cluster.pub and \
            worker.key; swiftps status cluster.pub and operator.key). Existing keys are never overwritten.
            """)

    @Option(help: "Directory to write the keys into; created if missing.")
    var out: String

    @Option(help: "Also write worker-0 … worker-N-1: a key per worker (give each worker --key worker-I), so that no worker can act for another.")
    var workers: Int = 0

    @Flag(help: "When DIR already holds a cluster's keys, check them and keep them (exit 0) instead of refusing.")
    var keepExisting = false

    func validate() throws {
        guard (0...4096).contains(workers) else { throw ValidationError("--workers must be from 0 to 4096") }
    }

    func run() throws {
        if keepExisting, FileManager.default.fileExists(atPath: "\(out)/cluster.key") {
            do {
                _ = try TransportSecurity.load(KeyDirectory(path: out), for: .server)
            } catch {
                throw ValidationError("\(out) holds keys that do not load: \(error.message)")
            }
            print("kept the keys in \(out)")
            return
        }
        do {
            for file in try KeyDirectory.create(at: out, workers: workers) { print(file) }
        } catch {
            throw ValidationError(error.message)
        }
    }
}
