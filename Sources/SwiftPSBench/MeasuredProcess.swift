import Foundation
import Synchronization
import SwiftPSCore

#if canImport(Glibc)
import Glibc
#endif

/// A child process of this executable whose peak resident memory is read when it exits.
///
/// Started with `posix_spawn` and reaped here with `wait4`, whose `ru_maxrss` is the kernel's high-water mark of the
/// process's resident set (the `VmHWM` of `/proc/PID/status`), taken as it exits: exact, where sampling `/proc` could
/// miss a peak in the last moments. Foundation's `Process` reaps its children itself, so it cannot give this.
final class MeasuredProcess: Sendable {
    struct Exit: Sendable {
        /// The exit code, or 128 + the signal that ended it.
        var status: Int32
        /// Peak resident set, bytes.
        var peakRSS: Int
    }

    let name: String
    let pid: pid_t
    let logPath: String
    private let exit = Mutex<Exit?>(nil)
    private let lines = Mutex<[String]>([])

    /// Starts `executable arguments` with standard output read line by line (see `lines`) and standard error in
    /// `logPath`; `SWIFTPS_*` variables of this process are not passed on, so only the arguments configure it.
    init(name: String, executable: String, arguments: [String], logPath: String) throws {
        self.name = name
        self.logPath = logPath
        var pipe: [Int32] = [0, 0]
        guard Glibc.pipe(&pipe) == 0 else { throw SwiftPSError(.internal, "pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addclose(&actions, pipe[0])
        posix_spawn_file_actions_addclose(&actions, pipe[1])
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SWIFTPS_") }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        close(pipe[1])
        guard spawned == 0 else {
            close(pipe[0])
            throw SwiftPSError(.internal, "starting \(name): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid
        let reader = FileHandle(fileDescriptor: pipe[0], closeOnDealloc: true)
        Thread { [self] in
            var pending = Data()
            while case let chunk = reader.availableData, !chunk.isEmpty {
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    lines.withLock { $0.append(line) }
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
        }.start()
        Thread { [self] in
            var status: Int32 = 0
            var usage = rusage()
            while wait4(self.pid, &status, 0, &usage) < 0 && errno == EINTR {}
            let signal = status & 0x7f
            let code = signal == 0 ? (status >> 8) & 0xff : 128 + signal
            exit.withLock { $0 = Exit(status: code, peakRSS: usage.ru_maxrss * 1024) }  // ru_maxrss is in KiB on Linux
        }.start()
    }

    /// The standard output lines so far.
    var output: [String] { lines.withLock { $0 } }

    /// Its resident set now, bytes (`VmRSS`); nil once it has exited.
    var currentRSS: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else {
            return nil
        }
        return kib * 1024
    }

    /// The first output line that satisfies `match`, waiting at most `timeout` (nil if none came, or it exited).
    func line(timeout: Duration, where match: (String) -> Bool) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = output.first(where: match) { return line }
            if exit.withLock({ $0 }) != nil { return output.first(where: match) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Waits at most `timeout` for it to exit; nil if it still runs.
    func wait(timeout: Duration) async -> Exit? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let exit = exit.withLock({ $0 }) { return exit }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return exit.withLock { $0 }
    }

    /// SIGTERM, then SIGKILL if it has not exited within 10 s; waits for it either way.
    func stop() async {
        guard exit.withLock({ $0 }) == nil else { return }
        kill(pid, SIGTERM)
        if await wait(timeout: .seconds(10)) == nil {
            kill(pid, SIGKILL)
            _ = await wait(timeout: .seconds(10))
        }
    }

    /// The last lines of its standard error, for error reports.
    func logTail(_ count: Int = 15) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }
}
