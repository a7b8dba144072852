import ArgumentParser
import Foundation
import SwiftPSCore
import SwiftPSTransport

/// The value of environment variable `name`, parsed, or `fallback` when unset or empty.
/// A value that does not parse is a usage error (exit 64), never silently the default.
func env<T: LosslessStringConvertible>(_ name: String, _ fallback: T) -> T {
    guard let raw = ProcessInfo.processInfo.environment[name], !raw.isEmpty else { return fallback }
    guard let value = T(raw) else {
        FileHandle.standardError.write(Data("Error: environment variable \(name)='\(raw)' is not a valid \(T.self)\n".utf8))
        exit(64)
    }
    return value
}

func env(_ name: String) -> String? {
    guard let raw = ProcessInfo.processInfo.environment[name], !raw.isEmpty else { return nil }
    return raw
}

/// Checks that `endpoint` is tcp://HOST:PORT with a port in range (0, any free port, only where `bindable`).
/// libzmq itself takes any digits as a port and wraps them: `tcp://127.0.0.1:99999` would listen on 34463.
func checkEndpoint(_ endpoint: String, flag: String, bindable: Bool = false) throws {
    let lowest = bindable ? 0 : 1
    guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":"),
          endpoint.distance(from: endpoint.startIndex, to: colon) > "tcp://".count,
          let port = Int(endpoint[endpoint.index(after: colon)...]), (lowest...65535).contains(port) else {
        throw ValidationError("\(flag) must be tcp://HOST:PORT with a port from \(lowest) to 65535 (got '\(endpoint)')")
    }
}

/// `--coordinator`: required, and a tcp://HOST:PORT address.
func checkCoordinator(_ address: String) throws {
    guard !address.isEmpty else {
        throw ValidationError("--coordinator tcp://HOST:PORT is required (or set SWIFTPS_COORDINATOR)")
    }
    try checkEndpoint(address, flag: "--coordinator")
}

/// Options every long-running role shares.
struct NodeOptions: ParsableArguments {
    @Option(help: "Coordinator address, tcp://HOST:PORT. (env: SWIFTPS_COORDINATOR)")
    var coordinator: String = env("SWIFTPS_COORDINATOR") ?? ""

    @Option(help: "Seconds to keep retrying until the coordinator answers. (env: SWIFTPS_CONNECT_TIMEOUT)")
    var connectTimeout: Double = env("SWIFTPS_CONNECT_TIMEOUT", 30.0)

    func validate() throws {
        try checkCoordinator(coordinator)
        guard connectTimeout > 0 else { throw ValidationError("--connect-timeout must be positive") }
    }
}

/// `--keys DIR`: the key directory of a secured cluster; without it the cluster is open.
struct KeyOptions: ParsableArguments {
    @Option(help: "Key directory of a secured cluster (swiftps keygen): CurveZMQ on every connection, clients admitted by key and role. Without it the cluster is open to anyone who reaches its ports. (env: SWIFTPS_KEYS)")
    var keys: String = env("SWIFTPS_KEYS") ?? ""

    @Option(help: "With --keys: the client key this process connects with, e.g. worker-3 (default: its role's, server, worker or operator). (env: SWIFTPS_KEY)")
    var key: String = env("SWIFTPS_KEY") ?? ""

    /// The transport security of a process of `role`, from the keys it needs.
    func security(_ role: TransportSecurity.ProcessRole) throws -> TransportSecurity {
        guard !keys.isEmpty else {
            if !key.isEmpty { throw ValidationError("--key \(key) needs --keys DIR") }
            return .open
        }
        do {
            return try TransportSecurity.load(KeyDirectory(path: keys), for: role, keyName: key.isEmpty ? nil : key)
        } catch {
            throw ValidationError("--keys \(keys): \(error.message)")
        }
    }
}
