import ArgumentParser
import Foundation

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

/// Options every long-running role shares.
struct NodeOptions: ParsableArguments {
    @Option(help: "Coordinator address, tcp://HOST:PORT. (env: SWIFTPS_COORDINATOR)")
    var coordinator: String = env("SWIFTPS_COORDINATOR") ?? ""

    @Option(help: "Seconds to keep retrying until the coordinator answers. (env: SWIFTPS_CONNECT_TIMEOUT)")
    var connectTimeout: Double = env("SWIFTPS_CONNECT_TIMEOUT", 30.0)

    func validate() throws {
        guard coordinator.hasPrefix("tcp://") else {
            throw ValidationError("--coordinator tcp://HOST:PORT is required (or set SWIFTPS_COORDINATOR)")
        }
        guard connectTimeout > 0 else { throw ValidationError("--connect-timeout must be positive") }
    }
}
