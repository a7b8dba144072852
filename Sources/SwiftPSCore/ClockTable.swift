/// The clocks of one server's workers, and what the job's consistency model allows: which BSP rounds are complete
/// and which waiting workers may be served.
///
/// A pure state machine, in the manner of etcd's raft: the server feeds it pushes and departures and carries out
/// its decisions (sum and apply a round, send a parked reply); tests feed it transcripts. `Waiter` is whatever the
/// caller needs to answer later (a route, a test's label).
///
/// A worker's clock is the number of clocks it has pushed to this server; a pipelined worker sends a clock in several
/// pushes (a layer at a time), all but the last marked `more`, and its clock advances with the last. Ranks `0..<workers` take part from clock 0,
/// so the first rounds wait for every expected worker. A worker that joins later takes part from its first push, at
/// the frontier. A worker leaves after its last push, or when the coordinator reports it dead. The *frontier* is the
/// slowest participant's clock: every update of every clock below it has arrived. A worker about to compute clock
/// `c` is served when `c − frontier` (its lag) is within the bound: 0 for BSP, S for SSP, anything for async.
public struct ClockTable<Waiter> {
    /// What the server must do after an event.
    public struct Decision {
        /// BSP only: the rounds now complete, in order; for each, the server sums the round's pushes in rank order
        /// and applies the sum once.
        public var completedRounds: Range<UInt64>
        /// Waiting workers that may be served now, in the order they pushed.
        public var released: [Release]
    }

    /// A parked reply that may be sent: the clock its push belonged to, and the lag of the values it will carry.
    public struct Release {
        public var waiter: Waiter
        public var clock: UInt64
        public var lag: UInt64
    }

    public let consistency: Consistency
    /// Pushes made to this server, per worker rank that has taken part.
    public private(set) var clocks: [UInt32: UInt64]
    /// Ranks taking part now: they hold back the frontier.
    private var active: Set<UInt32>
    /// Ranks that made their last push or were dropped; they may not push again.
    private var departed: Set<UInt32> = []
    /// BSP rounds already handed out as complete.
    private var completed: UInt64 = 0
    private var waiting: [(waiter: Waiter, rank: UInt32, next: UInt64)] = []

    public init(consistency: Consistency, workers: Int) {
        self.consistency = consistency
        let ranks = (0..<UInt32(max(0, workers)))
        clocks = Dictionary(uniqueKeysWithValues: ranks.map { ($0, 0) })
        active = Set(ranks)
    }

    /// The slowest participant's clock; with none left, the furthest clock reached (every round is complete).
    public var frontier: UInt64 {
        active.lazy.map { self.clocks[$0]! }.min() ?? clocks.values.max() ?? 0
    }

    /// The slowest clock among the other participants; nil when there are none.
    private func slowest(besides rank: UInt32) -> UInt64? {
        active.lazy.filter { $0 != rank }.map { self.clocks[$0]! }.min()
    }

    /// Workers whose replies are parked.
    public var waitingCount: Int { waiting.count }

    /// Records a push from `rank`; its reply waits (as `waiter`) until the consistency model allows it.
    /// - Parameters:
    ///   - more: more pushes of the same clock follow; the clock advances only with the push without it.
    ///   - last: the worker's final push (with `more` false); it leaves after it.
    /// - Returns: the clock this push belongs to (BSP: its round), and what to do now.
    /// - Throws: `failedPrecondition` for a worker that has left, or (BSP) one pushing twice in the open round;
    ///   nothing changes then.
    public mutating func push(from rank: UInt32, more: Bool = false, last: Bool = false,
                              waiter: Waiter) throws(SwiftPSError) -> (clock: UInt64, decision: Decision) {
        guard !departed.contains(rank) else {
            throw SwiftPSError(.failedPrecondition, "worker rank \(rank) has left the job (last push made, or dropped)")
        }
        let clock = clocks[rank] ?? frontier  // a worker joining a running job starts at the frontier
        if consistency == .bsp && clock > frontier {
            throw SwiftPSError(.failedPrecondition,
                               "worker rank \(rank) already pushed clock \(frontier); BSP takes one push per worker per clock")
        }
        clocks[rank] = more ? clock : clock + 1
        active.insert(rank)
        if last && !more { leave(rank) }
        waiting.append((waiter, rank, clock + 1))
        return (clock, settle())
    }

    /// The coordinator dropped `rank` (missed heartbeats): it no longer holds back the frontier.
    public mutating func drop(_ rank: UInt32) -> Decision {
        leave(rank)
        return settle()
    }

    private mutating func leave(_ rank: UInt32) {
        active.remove(rank)
        departed.insert(rank)
    }

    private mutating func settle() -> Decision {
        let frontier = frontier
        var rounds = completed..<completed
        if consistency == .bsp && frontier > completed {
            rounds = completed..<frontier
            completed = frontier
        }
        var released: [Release] = []
        var still: [(waiter: Waiter, rank: UInt32, next: UInt64)] = []
        for entry in waiting {
            // BSP: the round must be applied, the worker's own last part included. Otherwise the lag is measured
            // against the other workers: a part's reply does not wait for the rest of its own clock.
            let slowest = consistency == .bsp ? frontier : min(entry.next, slowest(besides: entry.rank) ?? entry.next)
            let lag = entry.next > slowest ? entry.next - slowest : 0
            if let bound = consistency.bound, lag > bound {
                still.append(entry)
            } else {
                released.append(Release(waiter: entry.waiter, clock: entry.next - 1, lag: lag))
            }
        }
        waiting = still
        return Decision(completedRounds: rounds, released: released)
    }
}
