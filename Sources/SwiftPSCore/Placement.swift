/// A contiguous piece of one tensor of the parameter space, the unit of placement: one wire key, one server.
public struct Chunk: Sendable, Equatable {
    /// The wire key: the tensor's index in the parameter space in the high 32 bits, the chunk index in the low 32.
    public var key: UInt64
    /// Index of the tensor in the parameter space.
    public var param: Int
    /// First element of the tensor that this chunk holds.
    public var offset: Int
    public var count: Int
    /// Node id of the server that owns it.
    public var server: UInt32

    public init(key: UInt64, param: Int, offset: Int, count: Int, server: UInt32) {
        self.key = key
        self.param = param
        self.offset = offset
        self.count = count
        self.server = server
    }

    public static func key(param: Int, chunk: Int) -> UInt64 { UInt64(param) << 32 | UInt64(chunk) }
}

/// Where every piece of every tensor lives: a pure function of the parameter space, the chunk size and the servers.
///
/// Each parameter is cut into chunks of at most `chunkElements` (BytePS partitions large tensors the same way, so one
/// big layer spreads over all servers), and each chunk goes to the least-loaded server so far (ties to the lower
/// node id). Every element of every parameter is placed exactly once, whatever the sizes (ps-lite lost the keys at
/// the top of an unevenly divided key range, its issue #185).
public enum Placement {
    public static func chunks(tensors: [TensorSpec], chunkElements: Int, servers: [UInt32]) -> [Chunk] {
        precondition(chunkElements > 0 && !servers.isEmpty, "placement needs a positive chunk size and a server")
        let servers = servers.sorted()
        var load = [Int](repeating: 0, count: servers.count)
        var chunks: [Chunk] = []
        for (param, spec) in tensors.enumerated() {
            var offset = 0, index = 0
            repeat {
                let count = min(chunkElements, spec.count - offset)
                let target = load.indices.min { load[$0] < load[$1] || (load[$0] == load[$1] && $0 < $1) }!
                load[target] += count
                chunks.append(Chunk(key: Chunk.key(param: param, chunk: index), param: param, offset: offset,
                                    count: count, server: servers[target]))
                offset += count
                index += 1
            } while offset < spec.count
        }
        return chunks
    }
}
