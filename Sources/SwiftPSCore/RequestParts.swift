/// How a list of tensors is cut into the requests that carry them: consecutive runs of at most `maxBytes` of payload
/// and `maxTensors` tensors, in order (a tensor larger than `maxBytes` goes alone).
///
/// Requests stay bounded whatever the size of a layer, so a server validates and applies each one while it is still in
/// cache, the next one arrives meanwhile, and a refused request refuses only its own keys (as a push that spans several
/// servers always has). BytePS partitions tensors the same way, at 4 MB. The README's performance section has the
/// figures: a 64 MiB push as one request of 16 frames reached 0.67–0.70 of the 4 MiB goodput, and in parts it was 26%
/// faster.
public enum RequestParts {
    /// The payload budget of one request.
    public static let defaultMaxBytes = 4 << 20
    /// The tensor budget of one request, well below a server's default limit (`--max-tensors`, 65,536): with tiny
    /// chunks (`--chunk-elements 1`), 4 MiB of payload would otherwise be a million tensors, which a server refuses.
    public static let defaultMaxTensors = 8192

    /// Index ranges into `byteCounts`, covering it in order; empty for no tensors.
    public static func ranges(byteCounts: [Int], maxBytes: Int = defaultMaxBytes,
                              maxTensors: Int = defaultMaxTensors) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var start = 0, bytes = 0
        for (index, count) in byteCounts.enumerated() {
            if index > start && (bytes + count > maxBytes || index - start == maxTensors) {
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
