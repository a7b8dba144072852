/// How a list of tensors is cut into the requests that carry them: consecutive runs of at most `maxBytes` of payload,
/// in order (a tensor larger than that goes alone).
///
/// Requests stay bounded whatever the size of a layer, so a server validates and applies each one while it is still in
/// cache, the next one arrives meanwhile, and a refused request refuses only its own keys (as a push that spans several
/// servers always has). BytePS partitions tensors the same way, at 4 MB. The README's performance section has the
/// figures: a 64 MiB push as one request of 16 frames reached 0.67–0.70 of the 4 MiB goodput, and in parts it was 26%
/// faster.
public enum RequestParts {
    /// The payload budget of one request.
    public static let defaultMaxBytes = 4 << 20

    /// Index ranges into `byteCounts`, covering it in order; empty for no tensors.
    public static func ranges(byteCounts: [Int], maxBytes: Int = defaultMaxBytes) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var start = 0, bytes = 0
        for (index, count) in byteCounts.enumerated() {
            if index > start && bytes + count > maxBytes {
                parts.append(start..<index)
                start = index
                bytes = 0
            }
            bytes += count
        }
        if start < byteCounts.count { parts.append(start..<byteCounts.count) }
        return parts
    }
}
