import Foundation
import SwiftPSCore

/// A directory of Z85 key files (`swiftps keygen`): `cluster.key` / `cluster.pub`, the pair the coordinator and the
/// servers serve with, and one pair per client role, `server`, `worker` and `operator` (more clients of a role may be
/// added as `ROLE-NAME.key` / `.pub`). A `.key` file holds the secret key and must be readable by its owner alone;
/// a process reads only the files its role needs.
public struct KeyDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// Writes a fresh cluster key pair, one client pair per role, and `workers` more worker pairs, `worker-0`…, so
    /// that each worker can hold a key of its own (the coordinator then binds each worker's node to its key).
    /// - Returns: the files written.
    /// - Throws: ALREADY_EXISTS when a key file is there already (keys are not replaced by accident), or the I/O error.
    @discardableResult
    public static func create(at path: String, workers: Int = 0) throws(SwiftPSError) -> [String] {
        let names = ["cluster"] + KeyRole.allCases.map(\.rawValue) + (0..<workers).map { "worker-\($0)" }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw SwiftPSError(.invalidArgument, "cannot create \(path): \(error.localizedDescription)")
        }
        for name in names {
            for suffix in [".key", ".pub"] where FileManager.default.fileExists(atPath: "\(path)/\(name)\(suffix)") {
                throw SwiftPSError(.alreadyExists, "\(path)/\(name)\(suffix) exists; keys are never overwritten")
            }
        }
        var written: [String] = []
        for name in names {
            let pair = try CurveKeyPair.generate()
            written.append(try write(pair.secretKey, to: "\(path)/\(name).key", mode: 0o600))
            written.append(try write(pair.publicKey, to: "\(path)/\(name).pub", mode: 0o644))
        }
        return written
    }

    private static func write(_ key: String, to file: String, mode: mode_t) throws(SwiftPSError) -> String {
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw SwiftPSError(.invalidArgument, "cannot create \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let line = Array((key + "\n").utf8)
        guard line.withUnsafeBytes({ Foundation.write(fd, $0.baseAddress, $0.count) }) == line.count, fchmod(fd, mode) == 0,
              fsync(fd) == 0 else {
            throw SwiftPSError(.invalidArgument, "cannot write \(file): \(String(cString: strerror(errno)))")
        }
        return file
    }

    /// The pair of `NAME.key` (its public key derived).
    public func keyPair(_ name: String) throws(SwiftPSError) -> CurveKeyPair {
        let file = "\(path)/\(name).key"
        var info = stat()
        guard stat(file, &info) == 0 else {
            throw SwiftPSError(.notFound, "\(file): \(String(cString: strerror(errno))); create keys with `swiftps keygen --out \(path)`")
        }
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw SwiftPSError(.permissionDenied, "\(file) holds a secret key but other users may read it (mode \(mode)): chmod 600 it")
        }
        do {
            return try CurveKeyPair(secretKey: try Self.read(file))
        } catch {
            throw SwiftPSError(error.code, "\(file): \(error.message)")
        }
    }

    /// The public key in `NAME.pub`.
    public func publicKey(_ name: String) throws(SwiftPSError) -> String {
        let file = "\(path)/\(name).pub"
        let key = try Self.read(file)
        do {
            try CurveKeyPair.requireZ85Key(key, what: "public key")
        } catch {
            throw SwiftPSError(.invalidArgument, "\(file): \(error.message)")
        }
        return key
    }

    /// Every client key in the directory (`server*.pub`, `worker*.pub`, `operator*.pub`), by public key.
    public func clients() throws(SwiftPSError) -> [String: Peer] {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        } catch {
            throw SwiftPSError(.notFound, "cannot read the key directory \(path): \(error.localizedDescription)")
        }
        var clients: [String: Peer] = [:]
        for file in files where file.hasSuffix(".pub") {
            let name = String(file.dropLast(4))
            guard let role = KeyRole.allCases.first(where: { name == $0.rawValue || name.hasPrefix("\($0.rawValue)-") }) else {
                continue  // cluster.pub, or a file of someone else's
            }
            clients[try publicKey(name)] = Peer(role: role, name: name)
        }
        guard !clients.isEmpty else {
            throw SwiftPSError(.notFound, "\(path) holds no client key (server.pub, worker.pub, operator.pub)")
        }
        return clients
    }

    private static func read(_ file: String) throws(SwiftPSError) -> String {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw SwiftPSError(.notFound, "\(file): cannot read it")
        }
        guard data.count <= 64, let text = String(data: data, encoding: .utf8) else {
            throw SwiftPSError(.invalidArgument, "\(file): not a key file (one Z85 line of 40 characters)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
