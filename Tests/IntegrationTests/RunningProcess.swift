import Foundation
import Synchronization

/// A `swiftps` process started by a test: stdout and stderr collected line by line, with waits on the lines
/// themselves (readiness signals), never on the clock.
final class RunningProcess: Sendable {
    let name: String
    private let process: Process
    private let lines = LineBook()

    /// The `swiftps` binary built next to the test bundle.
    static let executable: String = {
        let runner = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: runner).deletingLastPathComponent()
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("swiftps").path
    }()

    init(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        self.name = name
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("SWIFTPS_") { env[key] = nil }
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        for (pipe, stream) in [(out, LineBook.Stream.stdout), (err, .stderr)] {
            let book = lines
            Thread {
                var pending = Data()
                while true {
                    let chunk = pipe.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: 10) {
                        book.add(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self), stream)
                        pending.removeSubrange(pending.startIndex...newline)
                    }
                }
                book.close(stream)
            }.start()
        }
    }

    var pid: Int32 { process.processIdentifier }

    /// The first line (on `stream`) that satisfies `match`, waiting up to `timeout` for it.
    func line(_ stream: LineBook.Stream = .stdout, timeout: Duration = .seconds(60),
              where match: @escaping @Sendable (String) -> Bool) async throws -> String {
        guard let line = await lines.wait(stream, timeout: timeout, match) else {
            throw TestFailure("\(name): no matching \(stream) line within \(timeout); stderr:\n\(stderr)")
        }
        return line
    }

    var stdout: String { lines.all(.stdout).joined(separator: "\n") }
    var stderr: String { lines.all(.stderr).joined(separator: "\n") }

    func signal(_ number: Int32 = SIGTERM) { kill(process.processIdentifier, number) }

    /// The exit status, waiting up to `timeout` (both output streams are read to their end first).
    func exitStatus(timeout: Duration = .seconds(120)) async throws -> Int32 {
        guard await lines.waitClosed(timeout: timeout) else {
            signal(SIGKILL)
            throw TestFailure("\(name) still running after \(timeout); stderr:\n\(stderr)")
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Kills the process if it is still running (cleanup after a failed test).
    func stop() {
        if process.isRunning { signal(SIGKILL) }
    }
}

/// Lines of a process's output, and the tasks waiting for particular ones.
final class LineBook: Sendable {
    enum Stream: Sendable { case stdout, stderr }

    private struct Waiter {
        var id: Int
        var stream: Stream
        var match: @Sendable (String) -> Bool
        var continuation: CheckedContinuation<String?, Never>
    }

    private struct State {
        var lines: [Stream: [String]] = [.stdout: [], .stderr: []]
        var closed: Set<Stream> = []
        var waiters: [Waiter] = []
        var closeWaiters: [(Int, CheckedContinuation<Bool, Never>)] = []
        var nextID = 0
    }

    private let state = Mutex(State())

    func add(_ line: String, _ stream: Stream) {
        let ready = state.withLock { state -> [(CheckedContinuation<String?, Never>)] in
            state.lines[stream]!.append(line)
            let hits = state.waiters.filter { $0.stream == stream && $0.match(line) }
            state.waiters.removeAll { w in hits.contains { $0.id == w.id } }
            return hits.map(\.continuation)
        }
        for continuation in ready { continuation.resume(returning: line) }
    }

    func close(_ stream: Stream) {
        let (lineWaiters, closeWaiters) = state.withLock { state in
            state.closed.insert(stream)
            let lineWaiters = state.waiters.filter { $0.stream == stream }
            state.waiters.removeAll { $0.stream == stream }
            var done: [CheckedContinuation<Bool, Never>] = []
            if state.closed.count == 2 {
                done = state.closeWaiters.map(\.1)
                state.closeWaiters = []
            }
            return (lineWaiters.map(\.continuation), done)
        }
        for waiter in lineWaiters { waiter.resume(returning: nil) }
        for waiter in closeWaiters { waiter.resume(returning: true) }
    }

    func all(_ stream: Stream) -> [String] { state.withLock { $0.lines[stream]! } }

    func wait(_ stream: Stream, timeout: Duration, _ match: @escaping @Sendable (String) -> Bool) async -> String? {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        let timer = Task { [self] in
            try? await Task.sleep(for: timeout)
            let expired = state.withLock { state in
                let hit = state.waiters.first { $0.id == id }
                state.waiters.removeAll { $0.id == id }
                return hit?.continuation
            }
            expired?.resume(returning: nil)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let immediate: String?? = state.withLock { state in
                if let line = state.lines[stream]!.first(where: match) { return .some(line) }
                if state.closed.contains(stream) { return .some(nil) }
                state.waiters.append(Waiter(id: id, stream: stream, match: match, continuation: continuation))
                return .none
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    func waitClosed(timeout: Duration) async -> Bool {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        let timer = Task { [self] in
            try? await Task.sleep(for: timeout)
            let expired = state.withLock { state in
                let hit = state.closeWaiters.first { $0.0 == id }
                state.closeWaiters.removeAll { $0.0 == id }
                return hit?.1
            }
            expired?.resume(returning: false)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.closed.count == 2 { return true }
                state.closeWaiters.append((id, continuation))
                return false
            }
            if done { continuation.resume(returning: true) }
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The address in a `listening …` line: the bound endpoint, or the advertised one when given.
func listeningAddress(_ line: String) -> String {
    let words = line.split(separator: " ")
    if let advertised = words.firstIndex(of: "advertised"), advertised + 1 < words.count {
        return String(words[advertised + 1])
    }
    return String(words[1])
}

/// A TCP port that was free a moment ago (for a peer that must be told an address before it exists).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else { throw TestFailure("no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// The JSON object after a `result ` line.
func resultFields(_ line: String) throws -> [String: Double] {
    let text = line.hasPrefix("result ") ? String(line.dropFirst(7)) : line
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw TestFailure("not a JSON object: \(line)")
    }
    return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
}

/// Whether `pid` is a live process (a zombie waiting to be reaped counts as gone).
func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// The children of `pid`, whichever of its threads started them.
func childProcesses(of pid: Int32) -> [Int32] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.flatMap { task in
        ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "")
            .split(separator: " ").compactMap { Int32($0) }
    }
}
