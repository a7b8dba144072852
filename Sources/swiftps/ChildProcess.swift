import Foundation
import Synchronization
import SwiftPSCore

/// A child process of `swiftps local`: its stdout read line by line on a thread of its own, its stderr kept in a log.
final class ChildProcess: Sendable {
    let name: String
    let logPath: String
    private let process: Process
    private let exitStatus = OneShot<Int32>()

    /// Starts `executable arguments`; `onLine` gets each stdout line (on the reader thread).
    init(name: String, executable: String, arguments: [String], logDirectory: String,
         onLine: @escaping @Sendable (String) -> Void) throws {
        self.name = name
        logPath = "\(logDirectory)/\(name).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardInput = FileHandle.nullDevice
        self.process = process
        process.terminationHandler = { [exitStatus] process in exitStatus.set(process.terminationStatus) }
        try process.run()
        let reader = Thread {
            var pending = Data()
            let handle = output.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 10) {
                    onLine(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
        }
        reader.name = "swiftps-local-\(name)"
        reader.start()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    /// Its exit status once it has exited (a signal's number if one killed it); nil while it runs.
    var finishedStatus: Int32? { exitStatus.current }

    func terminate() { if process.isRunning { kill(process.processIdentifier, SIGTERM) } }
    func forceKill() { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    /// Waits for the exit status.
    func wait() async -> Int32 { await exitStatus.value() }

    /// Waits at most `timeout`; nil if still running.
    func wait(timeout: Duration) async -> Int32? { await exitStatus.value(timeout: timeout) }

    /// The last lines of its log, for error reports.
    func logTail(_ lines: Int = 15) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}
