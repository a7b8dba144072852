import Foundation
import SwiftPSCore
import SwiftPSTransport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How every benchmark measures: rounds of a fixed length, a rate per round, the median of the rounds.
enum Measure {
    /// Rounds per figure; the figure is their median, which one unlucky round (a page fault storm, a neighbour on the
    /// other core) does not move.
    static let rounds = 5

    /// Completed calls of `body` per second, called back to back for at least `seconds` after one warm-up call
    /// (which faults pages in and fills caches as a steady state would).
    static func rate(seconds: Double, _ body: () throws -> Void) rethrows -> Double {
        try body()
        let start = ContinuousClock.now, end = start + .nanoseconds(Int64(seconds * 1e9))
        var calls = 0
        var now = start
        repeat {
            try body()
            calls += 1
            now = ContinuousClock.now
        } while now < end
        return Double(calls) / (now - start).seconds
    }

    /// The medians of a measurement and its baseline, taken alternately round by round so that a change in the
    /// machine's state during the run (frequency, a neighbour on the other core) affects both alike.
    static func medians(_ measure: () throws -> Double, _ baseline: () throws -> Double) rethrows -> (Double, Double) {
        var values: [Double] = [], baselines: [Double] = []
        for _ in 0..<rounds {
            values.append(try measure())
            baselines.append(try baseline())
        }
        return (values.sorted()[rounds / 2], baselines.sorted()[rounds / 2])
    }

    /// `memcpy` calls per second, from one half of `buffer` to the other.
    ///
    /// The baseline for loops that stream memory: it touches `buffer.count` bytes per call (half read, half
    /// written), and glibc's copy is as fast as one core moves bytes (non-temporal stores for large copies).
    static func memcpyRate(_ buffer: UnsafeMutableRawBufferPointer, seconds: Double) -> Double {
        let half = buffer.count / 2, base = buffer.baseAddress!
        return rate(seconds: seconds) { _ = memcpy(base + half, base, half) }
    }
}

/// The median of `Measure.rounds` values of `measure`, taken one after the other.
func median(_ measure: () async throws -> Double) async rethrows -> Double {
    var values: [Double] = []
    for _ in 0..<Measure.rounds { values.append(try await measure()) }
    return values.sorted()[Measure.rounds / 2]
}

/// A zeroed, page-aligned heap buffer with every page already faulted in, so no measurement pays for first touch.
final class ByteBuffer {
    let bytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        bytes = .allocate(byteCount: count, alignment: 4096)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { bytes.deallocate() }
}

/// Prints figures as a table or as JSON lines `{"name","value","unit","baseline","ratio"}`.
final class Report {
    let json: Bool
    init(json: Bool) { self.json = json }

    /// - Parameters:
    ///   - baseline: the same quantity for the baseline, measured in the same run.
    ///   - higherIsBetter: false for times; the ratio is then `baseline / value`, so a ratio above 1 always means
    ///     better than the baseline.
    func figure(_ name: String, _ value: Double, _ unit: String, _ baseline: Double, higherIsBetter: Bool = true) {
        let ratio = higherIsBetter ? (baseline > 0 ? value / baseline : 0) : (value > 0 ? baseline / value : 0)
        line(name, value, unit, baseline, ratio)
    }

    /// A quantity as a multiple of `baseline` (ratio = value / baseline): memory against the bytes it must hold,
    /// where a ratio nearer 1 is better.
    func share(_ name: String, _ value: Double, _ unit: String, _ baseline: Double) {
        line(name, value, unit, baseline, baseline > 0 ? value / baseline : 0)
    }

    private func line(_ name: String, _ value: Double, _ unit: String, _ baseline: Double, _ ratio: Double) {
        if json {
            emit(#"{"name":"\#(name)","value":\#(value),"unit":"\#(unit)","baseline":\#(baseline),"ratio":\#(ratio)}"#)
        } else {
            let padded = name + String(repeating: " ", count: max(1, 34 - name.count))  // never cut a name short
            let figure = String(format: "%12.3f ", value) + unit.padding(toLength: 11, withPad: " ", startingAt: 0)
            emit(padded + figure + String(format: "  baseline %12.3f   ratio %.2f", baseline, ratio))
        }
    }

    /// A line for people (what was measured, against what); nothing in JSON mode, where every line is a figure.
    func note(_ line: String) {
        if !json { emit(line) }
    }
}
