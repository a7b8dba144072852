import Foundation
import Testing
import SwiftPSCore
import SwiftPSWire
import SwiftPSTransport
import SwiftPSCoordinator
import SwiftPSServer

extension Integration {
    /// A cluster run with keys, attacked while it trains by processes with no key, a stranger's key, or a key of the
    /// wrong role: every attack is refused, nothing changes, and the job learns as it does alone.
    @Suite struct Trust {
        /// BSP with two workers: the first waits at its first round until the second starts, so the attacks all land
        /// while the job runs, and the final model can be compared bit for bit with a run that was not attacked.
        static let job = ["--servers", "1", "--workers", "2", "--consistency", "bsp", "--epochs", "2",
                          "--train-samples", "8000", "--test-samples", "1000", "--layers", "16,64,10"]

        static func keys() throws -> String {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID())").path
            try KeyDirectory.create(at: directory, workers: 2)
            return directory
        }

        static func security(_ directory: String, _ role: TransportSecurity.ProcessRole, key: String? = nil) throws -> TransportSecurity {
            try TransportSecurity.load(KeyDirectory(path: directory), for: role, keyName: key)
        }

        /// The status code a call ended with; nil when it succeeded.
        static func code(_ call: () async throws -> Void) async -> StatusCode? {
            do {
                try await call()
                return nil
            } catch let error as SwiftPSError {
                return error.code
            } catch {
                return .unknown
            }
        }

        @Test func attacksOnAKeyedClusterChangeNothing() async throws {
            let keys = try Self.keys(), stranger = try Self.keys()
            defer { for path in [keys, stranger] { try? FileManager.default.removeItem(atPath: path) } }
            let quiet = try await Self.run(keys: keys, stranger: stranger, attack: false)
            let attacked = try await Self.run(keys: keys, stranger: stranger, attack: true)
            #expect(attacked == quiet, "the attacked job ends on the same bits as the quiet one")
        }

        /// Runs the job with keys, attacking it (or not) once the first worker waits for its first round.
        /// - Returns: the workers' model digests.
        static func run(keys: String, stranger: String, attack: Bool) async throws -> [String] {
            let coordinator = try RunningProcess("coordinator", ["coordinator", "--bind", "tcp://127.0.0.1:0", "--keys", keys] + Self.job)
            defer { coordinator.stop() }
            let address = listeningAddress(try await coordinator.line { $0.hasPrefix("listening ") })
            let server = try RunningProcess("server", ["server", "--coordinator", address, "--bind", "tcp://127.0.0.1:0", "--keys", keys])
            defer { server.stop() }
            let serverAddress = listeningAddress(try await server.line { $0.hasPrefix("listening ") })
            let worker = try RunningProcess("worker-0", ["worker", "--coordinator", address, "--keys", keys, "--key", "worker-0"])
            defer { worker.stop() }
            _ = try await worker.line(.stderr) { $0.contains("steps of") }  // registered, about to pull and train
            if attack { try await Self.attack(address: address, serverAddress: serverAddress, keys: keys, stranger: stranger) }
            let second = try RunningProcess("worker-1", ["worker", "--coordinator", address, "--keys", keys, "--key", "worker-1"])
            defer { second.stop() }
            var digests: [String] = []
            for process in [worker, second] {
                let line = try await process.line(timeout: .seconds(120)) { $0.hasPrefix("result ") }
                #expect(try #require(resultFields(line)["accuracy"]) > 0.85)
                digests.append(String(line.split(separator: "\"model_digest\":\"")[1].prefix(16)))
                #expect(try await process.exitStatus() == 0)
            }
            #expect(try await server.exitStatus(timeout: .seconds(30)) == 0)
            #expect(try await coordinator.exitStatus(timeout: .seconds(30)) == 0)
            if attack {
                #expect(server.stderr.contains("refused") || coordinator.stderr.contains("refused"), "refusals are logged")
            }
            return digests
        }

        static func attack(address: String, serverAddress: String, keys: String, stranger: String) async throws {

            let context = ZMQContext()
            let log = Log("attacker")
            let quick = Duration.milliseconds(1500)
            let operatorClient = try CoordinatorClient(context: context, endpoint: address, security: try Self.security(keys, .operator))
            let before = try await operatorClient.clusterStatus()
            let realWorker = try #require(before.nodes.first { $0.role == .worker })

            let gradient = OutgoingTensor(key: Chunk.key(param: 0, chunk: 0), count: 1024,
                                          payload: Payload(FloatBuffer(count: 1024, repeating: 50)))
            // Known keys of the wrong role, or of another worker: PERMISSION_DENIED.
            let otherWorker = try CoordinatorClient(context: context, endpoint: address,
                                                    security: try Self.security(keys, .worker, key: "worker-1"))
            #expect(await Self.code {
                _ = try await otherWorker.register(role: .server, address: "tcp://127.0.0.1:1", connectTimeout: quick,
                                                   shutdown: Shutdown(), log: log)
            } == .permissionDenied, "a worker key cannot register a server")
            #expect(await Self.code { try await otherWorker.finish(nodeID: realWorker.id) } == .permissionDenied,
                    "worker-1 cannot finish worker-0's node")
            #expect(await Self.code {
                _ = try await operatorClient.register(role: .worker, address: "", connectTimeout: quick, shutdown: Shutdown(), log: log)
            } == .permissionDenied, "an operator key cannot register")
            #expect(await Self.code { _ = try await operatorClient.declare([TensorSpec(name: "x", shape: [1])]) } == .permissionDenied)
            for role in [TransportSecurity.ProcessRole.operator, .server] {
                let client = try ParameterServerClient(context: context, endpoint: serverAddress, security: try Self.security(keys, role))
                #expect(await Self.code { _ = try await client.push([gradient]) } == .permissionDenied, "\(role) pushes")
                #expect(try await client.stats().pushes > 0, "\(role) may read the server's stats")
                await client.close()
            }

            // No key at all: the CURVE handshake fails, so nothing is ever answered; nor is a key the cluster does
            // not know (the ZAP handler refuses it). Tried all at once, each waiting out its deadline.
            let anonymous = try CoordinatorClient(context: context, endpoint: address)
            let anonymousPush = try ParameterServerClient(context: context, endpoint: serverAddress)
            let strangerClient = try CoordinatorClient(context: context, endpoint: address,
                                                       security: try Self.security(stranger, .worker))
            let strangerPush = try ParameterServerClient(context: context, endpoint: serverAddress,
                                                         security: try Self.security(stranger, .worker))
            async let status = Self.code { _ = try await anonymous.clusterStatus(timeout: quick) }
            async let finish = Self.code { try await anonymous.finish(nodeID: realWorker.id, timeout: quick) }
            async let register = Self.code {
                _ = try await anonymous.register(role: .server, address: "tcp://127.0.0.1:1", connectTimeout: quick,
                                                 shutdown: Shutdown(), log: log)
            }
            async let push = Self.code { _ = try await anonymousPush.push([gradient], timeout: quick) }
            async let strangerStatus = Self.code { _ = try await strangerClient.clusterStatus(timeout: quick) }
            async let strangerPushed = Self.code { _ = try await strangerPush.push([gradient], timeout: quick) }
            let silences = await [status, finish, register, push, strangerStatus, strangerPushed]
            // Unanswered: the deadline passes, or (with no connection up at all) the send itself is refused.
            let unanswered: Set<StatusCode> = [.deadlineExceeded, .unavailable, .resourceExhausted]
            #expect(silences.allSatisfy { $0.map(unanswered.contains) ?? false }, "\(silences)")

            let after = try await operatorClient.clusterStatus()
            #expect(after.nodes.map(\.id) == before.nodes.map(\.id), "no impostor registered")
            for client in [anonymous, strangerClient, otherWorker, operatorClient] { await client.close() }
            for client in [anonymousPush, strangerPush] { await client.close() }
        }

        /// Key files that would weaken the cluster, or are not keys, stop a process at once with a clear error.
        @Test func badKeyFilesAreRefusedByName() async throws {
            let keys = try Self.keys()
            defer { try? FileManager.default.removeItem(atPath: keys) }
            chmod("\(keys)/worker.key", 0o644)
            let worker = try RunningProcess("worker", ["worker", "--coordinator", "tcp://127.0.0.1:9", "--keys", keys])
            #expect(try await worker.exitStatus(timeout: .seconds(10)) == 64)
            #expect(worker.stderr.contains("worker.key holds a secret key but other users may read it"), "\(worker.stderr)")

            try "not-a-key\n".write(toFile: "\(keys)/cluster.pub", atomically: true, encoding: .utf8)
            chmod("\(keys)/worker.key", 0o600)
            let again = try RunningProcess("worker", ["worker", "--coordinator", "tcp://127.0.0.1:9", "--keys", keys])
            #expect(try await again.exitStatus(timeout: .seconds(10)) == 64)
            #expect(again.stderr.contains("cluster.pub: public key is not a Z85-encoded 32-byte key"), "\(again.stderr)")

            let wrongRole = try RunningProcess("status", ["status", "--coordinator", "tcp://127.0.0.1:9", "--keys", keys, "--key", "worker-0"])
            #expect(try await wrongRole.exitStatus(timeout: .seconds(10)) == 64)
            #expect(wrongRole.stderr.contains("is not one of the operator role's"), "\(wrongRole.stderr)")
        }
    }
}
