import Foundation

/// One line per event on standard error: time, who, what. Standard output stays for machine-readable lines.
public struct Log: Sendable {
    public var name: String

    public init(_ name: String) {
        self.name = name
    }

    public func info(_ message: @autoclosure () -> String) { write(message()) }

    public func error(_ message: @autoclosure () -> String) { write("error: " + message()) }

    private func write(_ message: String) {
        let stamp = Date().formatted(.iso8601.time(includingFractionalSeconds: true))
        FileHandle.standardError.write(Data("\(stamp) [\(name)] \(message)\n".utf8))
    }
}

/// Writes one line to standard output and flushes it (for lines other programs wait for).
public func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
