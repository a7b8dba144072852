import Testing
import SwiftPSCore

/// Consistency clocks as transcripts: each line an event (`push R`, `push R last`, `push R more` — a part of the
/// clock, more to come — or `drop R`), then `→` and the
/// decision: the push's clock, BSP rounds completed, and the parked replies served (`wR.C` is rank R's reply for
/// its push of clock C, with its lag).
@Suite struct ClockTableTests {
    func transcript(_ consistency: Consistency, workers: Int, _ events: String) -> String {
        var table = ClockTable<String>(consistency: consistency, workers: workers)
        var lines: [String] = []
        for event in events.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) where !event.isEmpty {
            let words = event.split(separator: " ")
            let rank = UInt32(words[1])!
            var parts: [String] = []
            let decision: ClockTable<String>.Decision
            if words[0] == "drop" {
                decision = table.drop(rank)
            } else {
                do {
                    let pushed = try table.push(from: rank, more: words.contains("more"), last: words.contains("last"),
                                                waiter: "w\(rank)")
                    parts.append("clock \(pushed.clock)")
                    decision = pushed.decision
                } catch {
                    lines.append("\(event) → refused: \(error.code)")
                    continue
                }
            }
            if !decision.completedRounds.isEmpty {
                parts.append("rounds \(decision.completedRounds.map(String.init).joined(separator: ","))")
            }
            if !decision.released.isEmpty {
                parts.append("serve " + decision.released.map { "\($0.waiter).\($0.clock) lag \($0.lag)" }.joined(separator: ", "))
            }
            lines.append("\(event) → \(parts.isEmpty ? "nothing" : parts.joined(separator: "; "))")
        }
        return lines.joined(separator: "\n")
    }

    @Test func parsesEveryModelAndRefusesTheRest() {
        #expect(Consistency(parsing: "async") == .async)
        #expect(Consistency(parsing: "BSP") == .bsp)
        #expect(Consistency(parsing: "ssp:3") == .ssp(staleness: 3))
        #expect(Consistency(parsing: "ssp:0") == .ssp(staleness: 0))
        for bad in ["", "ssp", "ssp:", "ssp:-1", "ssp:x", "sync", "bsp:1"] {
            #expect(Consistency(parsing: bad) == nil, "\(bad)")
        }
        #expect(Consistency.ssp(staleness: 2).description == "ssp:2")
    }

    @Test func bspWaitsForEveryWorkerThenCompletesTheRound() {
        #expect(transcript(.bsp, workers: 2, """
            push 0
            push 0
            push 1
            push 1
            push 0
            """) == """
            push 0 → clock 0
            push 0 → refused: FAILED_PRECONDITION
            push 1 → clock 0; rounds 0; serve w0.0 lag 0, w1.0 lag 0
            push 1 → clock 1
            push 0 → clock 1; rounds 1; serve w1.1 lag 0, w0.1 lag 0
            """)
    }

    @Test func bspGoesOnWithoutADroppedWorker() {
        #expect(transcript(.bsp, workers: 3, """
            push 0
            push 2
            drop 1
            push 1
            push 0
            push 2
            """) == """
            push 0 → clock 0
            push 2 → clock 0
            drop 1 → rounds 0; serve w0.0 lag 0, w2.0 lag 0
            push 1 → refused: FAILED_PRECONDITION
            push 0 → clock 1
            push 2 → clock 1; rounds 1; serve w0.1 lag 0, w2.1 lag 0
            """)
    }

    @Test func bspLastPushesCloseTheFinalRound() {
        #expect(transcript(.bsp, workers: 2, """
            push 0 last
            push 1
            push 1 last
            push 0
            """) == """
            push 0 last → clock 0
            push 1 → clock 0; rounds 0; serve w0.0 lag 0, w1.0 lag 0
            push 1 last → clock 1; rounds 1; serve w1.1 lag 0
            push 0 → refused: FAILED_PRECONDITION
            """)
    }

    @Test func aWorkerJoiningARunningJobStartsAtTheFrontier() {
        #expect(transcript(.bsp, workers: 1, """
            push 0
            push 0
            push 5
            push 0
            push 5
            """) == """
            push 0 → clock 0; rounds 0; serve w0.0 lag 0
            push 0 → clock 1; rounds 1; serve w0.1 lag 0
            push 5 → clock 2
            push 0 → clock 2; rounds 2; serve w5.2 lag 0, w0.2 lag 0
            push 5 → clock 3
            """)
    }

    @Test func aPipelinedClockAdvancesWithItsLastPart() {
        #expect(transcript(.bsp, workers: 2, """
            push 0 more
            push 0 more
            push 1 more
            push 0
            push 1
            push 1 more
            """) == """
            push 0 more → clock 0
            push 0 more → clock 0
            push 1 more → clock 0
            push 0 → clock 0
            push 1 → clock 0; rounds 0; serve w0.0 lag 0, w0.0 lag 0, w1.0 lag 0, w0.0 lag 0, w1.0 lag 0
            push 1 more → clock 1
            """)
    }

    /// Outside BSP a part's reply is measured against the other workers only: it does not wait for the rest of
    /// its own clock.
    @Test func sspPartsAreNotHeldBackByTheirOwnClock() {
        #expect(transcript(.ssp(staleness: 0), workers: 2, """
            push 1
            push 0 more
            push 0
            """) == """
            push 1 → clock 0
            push 0 more → clock 0; serve w0.0 lag 0
            push 0 → clock 0; serve w1.0 lag 0, w0.0 lag 0
            """)
    }

    @Test func sspLetsAWorkerRunAtMostSClocksAhead() {
        // Rank 0 computes alone; with S = 2 it is served until the clock it is about to compute is 2 ahead of rank 1.
        #expect(transcript(.ssp(staleness: 2), workers: 2, """
            push 0
            push 0
            push 0
            push 1
            push 1
            drop 1
            """) == """
            push 0 → clock 0; serve w0.0 lag 1
            push 0 → clock 1; serve w0.1 lag 2
            push 0 → clock 2
            push 1 → clock 0; serve w0.2 lag 2, w1.0 lag 0
            push 1 → clock 1; serve w1.1 lag 0
            drop 1 → nothing
            """)
    }

    @Test func sspZeroWaitsLikeBSPButAppliesOnArrival() {
        #expect(transcript(.ssp(staleness: 0), workers: 2, """
            push 0
            push 1
            """) == """
            push 0 → clock 0
            push 1 → clock 0; serve w0.0 lag 0, w1.0 lag 0
            """)
    }

    @Test func asyncServesAtOnceAndReportsTheLag() {
        #expect(transcript(.async, workers: 2, """
            push 0
            push 0
            push 0
            push 1
            """) == """
            push 0 → clock 0; serve w0.0 lag 1
            push 0 → clock 1; serve w0.1 lag 2
            push 0 → clock 2; serve w0.2 lag 3
            push 1 → clock 0; serve w1.0 lag 0
            """)
    }

    @Test func aDepartedWorkerNoLongerHoldsTheFrontierBack() {
        var table = ClockTable<Int>(consistency: .ssp(staleness: 1), workers: 2)
        _ = try? table.push(from: 1, last: true, waiter: 0)
        #expect(table.frontier == 0, "rank 0 has not pushed")
        for waiter in 1...3 { _ = try? table.push(from: 0, waiter: waiter) }
        #expect(table.frontier == 3, "rank 1 left at clock 1; rank 0 sets the pace")
        #expect(table.waitingCount == 0)
    }
}
