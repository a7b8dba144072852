/// Where a worker's training time went, summed over the run: the end-of-run summary table.
public struct TimeSplit: Sendable, Equatable {
    /// Forward, backward and copying batches out of the data set.
    public var computeMs: Double
    /// Sending pushes (staging, conversion, compression, handing to the sockets).
    public var pushMs: Double
    /// Blocked until replies (the new values) were in, and decoding them: communication not hidden by compute.
    public var pullMs: Double
    /// Blocked on the other workers: the end-of-training barrier.
    public var waitMs: Double

    public init(computeMs: Double, pushMs: Double, pullMs: Double, waitMs: Double) {
        self.computeMs = computeMs
        self.pushMs = pushMs
        self.pullMs = pullMs
        self.waitMs = waitMs
    }

    public var totalMs: Double { computeMs + pushMs + pullMs + waitMs }

    /// Rows of seconds and shares: compute, communication (push + pull), waiting.
    public var table: String {
        let rows = [("compute", computeMs), ("communication", pushMs + pullMs), ("  push (send)", pushMs),
                    ("  pull (wait for values)", pullMs), ("waiting (barrier)", waitMs), ("total", totalMs)]
        return rows.map { name, ms in
            let share = totalMs > 0 ? 100 * ms / totalMs : 0
            return pad(name, 26) + pad(fixed(ms / 1000, 2), 9, left: true) + " s" + pad(fixed(share, 1), 7, left: true) + "%"
        }.joined(separator: "\n")
    }

    private func fixed(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let units = Int((value * scale).rounded())
        let whole = String(units / Int(scale)), fraction = String(abs(units) % Int(scale))
        return whole + "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }

    private func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? fill + text : text + fill
    }
}
