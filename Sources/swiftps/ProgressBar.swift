import Foundation

/// Training progress on standard error: a redrawn bar on a terminal, a line every 10% otherwise.
final class ProgressBar: Sendable {
    private let interactive = isatty(STDERR_FILENO) != 0
    private let start = ContinuousClock.now
    private let lastDecile = Mutex<Int>(-1)

    func draw(_ workers: [(step: Int, steps: Int, loss: Double)], final: Bool = false) {
        let done = workers.reduce(0) { $0 + $1.step }, total = workers.reduce(0) { $0 + $1.steps }
        guard total > 0 else { return }
        let fraction = Double(done) / Double(total)
        let elapsed = Double((ContinuousClock.now - start).components.seconds)
        let eta = fraction > 0 ? Int(elapsed / fraction - elapsed) : 0
        let loss = workers.map(\.loss).reduce(0, +) / Double(workers.count)
        let width = 30, filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(format: "[%@] %3.0f%%  step %d/%d  loss %.4f  eta %ds", bar, fraction * 100, done, total, loss, eta)
        if interactive {
            FileHandle.standardError.write(Data(("\r" + line + (final ? "\n" : "")).utf8))
        } else {
            let decile = Int(fraction * 10)
            let show = lastDecile.withLock { last in
                defer { last = max(last, decile) }
                return decile > last
            }
            if show || final { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
    }
}

import Synchronization
