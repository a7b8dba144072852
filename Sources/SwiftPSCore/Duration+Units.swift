extension Duration {
    /// Whole milliseconds, rounded down (for timeouts handed to C calls).
    public var milliseconds: Int {
        Int(components.seconds) * 1000 + Int(components.attoseconds / 1_000_000_000_000_000)
    }

    /// Seconds, with the fraction (for rates and reports).
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }

    /// Milliseconds, with the fraction.
    public var fractionalMilliseconds: Double { seconds * 1000 }
}
