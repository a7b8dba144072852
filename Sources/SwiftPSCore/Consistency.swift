/// How fresh the weights a worker computes on must be; chosen for the whole job at the coordinator.
public enum Consistency: Sendable, Equatable, CustomStringConvertible {
    /// Every push is applied on arrival and every pull answered at once (Hogwild-style; the fastest).
    case async
    /// Bulk synchronous: a server sums the pushes of every live worker for clock t (in rank order), applies the sum
    /// once, and only then answers their pulls, with the weights of clock t+1.
    case bsp
    /// Stale synchronous: pushes are applied on arrival, but no worker is served weights that miss any update of a
    /// clock more than `staleness` clocks behind the one it is about to compute.
    case ssp(staleness: Int)

    /// Parses `async`, `bsp` or `ssp:S` (S ≥ 0).
    public init?(parsing text: String) {
        let lower = text.lowercased()
        switch lower {
        case "async": self = .async
        case "bsp": self = .bsp
        default:
            guard lower.hasPrefix("ssp:"), let bound = Int(lower.dropFirst(4)), bound >= 0 else { return nil }
            self = .ssp(staleness: bound)
        }
    }

    public var description: String {
        switch self {
        case .async: "async"
        case .bsp: "bsp"
        case .ssp(let staleness): "ssp:\(staleness)"
        }
    }

    /// How many clocks the slowest worker may lag behind a worker being served; nil: no bound.
    public var bound: UInt64? {
        switch self {
        case .async: nil
        case .bsp: 0
        case .ssp(let staleness): UInt64(staleness)
        }
    }
}
