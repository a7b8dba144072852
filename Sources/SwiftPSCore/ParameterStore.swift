/// A gradient or value as it arrived: a key, a dtype, an element count and the bytes, read in place.
public struct TensorView {
    public var key: UInt64
    public var dtype: DType
    public var count: Int
    public var bytes: UnsafeRawBufferPointer

    public init(key: UInt64, dtype: DType, count: Int, bytes: UnsafeRawBufferPointer) {
        self.key = key
        self.dtype = dtype
        self.count = count
        self.bytes = bytes
    }
}

/// The fp32 master weights, optimizer state and version (clock) of a set of chunks.
///
/// Pure logic: it owns memory and applies updates, and knows nothing of sockets. A push is validated whole before any
/// of it is applied, so a bad request leaves every weight as it was: that includes a finite gradient so large that
/// the update would take a weight or the optimizer's state past the largest fp32 (to ±Inf or NaN). Not thread-safe:
/// one thread owns a store.
public final class ParameterStore {
    /// One chunk: its weights, its optimizer state and its version.
    ///
    /// The weights are a buffer that a send may hold (a pull's reply goes out of it without a copy). A buffer someone
    /// else holds is never written: a push first moves the values to a buffer nobody holds (`makeWeightsWritable`).
    struct Slot {
        /// The job's optimizer with this tensor's learning-rate scale and weight-decay exemption.
        let optimizer: OptimizerConfig
        /// Pushes are validated but not applied.
        let frozen: Bool
        /// False for a pushed tensor's chunk until a client assigns its values: it is not served meanwhile.
        var assigned: Bool
        /// A push has been applied (or, frozen, accepted): Assign no longer may set its values.
        var pushed = false
        var weights: FloatBuffer
        /// The buffer the weights were in when a push last found them held; reused once nobody holds it any more.
        var spare: FloatBuffer?
        var state: UnsafeMutableBufferPointer<Float>
        var version: UInt64
        /// At least the largest magnitudes of the weights and of each state buffer: exact when counted, then
        /// carried through each update by `Optimizer.bounds` (so they only grow; a recount brings them back down).
        var bound: Optimizer.Magnitudes
        /// `bound` after the update `updateStaysFinite` has just checked; applying it moves it to `bound`.
        var checkedBound = Slot.unknown

        /// A bound that vouches for nothing: the next check counts again.
        static let unknown = Optimizer.Magnitudes(weights: .infinity, first: .infinity, second: .infinity)

        var count: Int { weights.count }

        /// Applies one gradient with `optimizer`; returns the new version. Call it in place (`slots[key]!.apply`): a
        /// copy of the slot would hold the weights buffer too, and every push would copy it.
        mutating func apply(gradient: UnsafePointer<Float>) -> UInt64 {
            pushed = true
            guard !frozen else { return version }
            makeWeightsWritable()
            version += 1
            Optimizer.apply(optimizer, weights: weights.pointer, state: state.baseAddress!, gradient: gradient,
                            count: count, step: version)
            bound = checkedBound  // unknown unless checked: the next check counts again
            checkedBound = Slot.unknown
            return version
        }

        /// The largest magnitudes of `weights` and of each of the `buffers` state buffers in `state`, counted.
        static func counted(_ weights: UnsafePointer<Float>, _ state: UnsafePointer<Float>, count: Int,
                            buffers: Int) -> Optimizer.Magnitudes {
            let magnitude = { (values: UnsafePointer<Float>) in Double(Optimizer.maxMagnitude(values, count: count)) }
            return Optimizer.Magnitudes(weights: magnitude(weights), first: buffers > 0 ? magnitude(state) : 0,
                                        second: buffers > 1 ? magnitude(state + count) : 0)
        }

        /// True when applying `gradient`, whose largest magnitude is `largest`, computes only finite values: known
        /// from the bounds for any sensible update (counting the weights and state again if the carried bound has
        /// grown too loose), else found out by applying it to a copy of the weights and state.
        mutating func updateStaysFinite(gradient: UnsafePointer<Float>, largest: Float) -> Bool {
            if frozen { return true }
            let buffers = optimizer.stateBuffers
            var bounds = Optimizer.bounds(optimizer, magnitudes: bound, gradient: largest, step: version + 1)
            if !bounds.staysFinite {
                bound = Self.counted(weights.pointer, state.baseAddress!, count: count, buffers: buffers)
                bounds = Optimizer.bounds(optimizer, magnitudes: bound, gradient: largest, step: version + 1)
            }
            if bounds.staysFinite {
                checkedBound = bounds.written
                return true
            }
            let weightsCopy = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
            let stateCopy = UnsafeMutableBufferPointer<Float>.allocate(capacity: state.count)
            defer {
                weightsCopy.deallocate()
                stateCopy.deallocate()
            }
            _ = weightsCopy.initialize(fromContentsOf: UnsafeBufferPointer(start: weights.pointer, count: count))
            _ = stateCopy.initialize(fromContentsOf: state)
            Optimizer.apply(optimizer, weights: weightsCopy.baseAddress!, state: stateCopy.baseAddress!,
                            gradient: gradient, count: count, step: version + 1)
            checkedBound = Self.counted(weightsCopy.baseAddress!, stateCopy.baseAddress!, count: count, buffers: buffers)
            return [checkedBound.weights, checkedBound.first, checkedBound.second].allSatisfy(\.isFinite)
        }

        /// Leaves a held weights buffer to its holders and carries on in the spare (or a new buffer): one copy of the
        /// weights, paid only by a push that overlaps a send of them.
        mutating func makeWeightsWritable() {
            guard !isKnownUniquelyReferenced(&weights) else { return }
            let writable = isKnownUniquelyReferenced(&spare) ? spare! : FloatBuffer(uninitializedCount: count)
            writable.pointer.update(from: weights.pointer, count: count)
            spare = weights
            weights = writable
        }
    }

    public let optimizer: OptimizerConfig
    public let allowNonFinite: Bool
    private var slots: [UInt64: Slot] = [:]
    /// Reused for payloads that cannot be read as fp32 in place: 16-bit wire dtypes, and f32 that is not 4-byte
    /// aligned (small ZeroMQ frames may sit at any offset).
    private var alignedScratch: UnsafeMutableBufferPointer<Float> = .init(start: nil, count: 0)
    /// BSP: one key's sum over a round's pushes.
    private var sumScratch: UnsafeMutableBufferPointer<Float> = .init(start: nil, count: 0)

    public private(set) var elements = 0

    /// Allocates and initialises the given chunks of the parameter space `tensors` deterministically from `seed`;
    /// each tensor's options (learning-rate scale, weight-decay exemption, frozen) apply to its chunks.
    public init(chunks: [Chunk], tensors: [TensorSpec], seed: UInt64, optimizer: OptimizerConfig,
                allowNonFinite: Bool = false) {
        self.optimizer = optimizer
        self.allowNonFinite = allowNonFinite
        for chunk in chunks {
            let spec = tensors[chunk.param]
            let weights = FloatBuffer(count: chunk.count)
            DeterministicInit.fill(weights.buffer, seed: seed, param: chunk.param, spec: spec, offset: chunk.offset)
            let state = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, chunk.count * optimizer.stateBuffers))
            state.initialize(repeating: 0)
            let magnitude = Double(Optimizer.maxMagnitude(weights.pointer, count: chunk.count))
            slots[chunk.key] = Slot(optimizer: spec.optimizer(optimizer), frozen: spec.frozen,
                                    assigned: spec.initializer != .pushed, weights: weights, state: state, version: 0,
                                    bound: .init(weights: magnitude))
            elements += chunk.count
        }
    }

    deinit {
        for slot in slots.values { slot.state.deallocate() }
        alignedScratch.deallocate()
        sumScratch.deallocate()
    }

    public var keyCount: Int { slots.count }
    public var keys: [UInt64] { slots.keys.sorted() }

    public func count(of key: UInt64) -> Int? { slots[key]?.count }
    public func version(of key: UInt64) -> UInt64? { slots[key]?.version }

    /// Throws NOT_FOUND for an unknown key, UNAVAILABLE for a pushed tensor's key not yet assigned.
    public func requireServable(_ key: UInt64) throws(SwiftPSError) {
        guard let slot = slots[key] else { throw SwiftPSError(.notFound, "unknown key \(keyName(key))") }
        try Self.requireAssigned(slot, key)
    }

    private static func requireAssigned(_ slot: Slot, _ key: UInt64) throws(SwiftPSError) {
        guard slot.assigned else {
            throw SwiftPSError(.unavailable, "key \(keyName(key)) awaits its initial values (Assign)")
        }
    }

    /// Checks a whole push: known keys, no key twice, dtype, element count, byte length, finite values, and an update
    /// that stays finite (both unless `allowNonFinite`).
    public func validate(_ gradients: [TensorView]) throws(SwiftPSError) {
        if let key = firstDuplicateKey(gradients) {
            throw SwiftPSError(.invalidArgument, "key \(keyName(key)) appears twice in one push")
        }
        for g in gradients {
            guard let slot = slots[g.key] else {
                throw SwiftPSError(.notFound, "unknown key \(keyName(g.key)) (this server holds \(slots.count) keys)")
            }
            try Self.requireAssigned(slot, g.key)
            guard g.count == slot.count else {
                throw SwiftPSError(.invalidArgument,
                                   "key \(keyName(g.key)): \(g.count) elements sent, the key has \(slot.count)")
            }
            guard g.dtype.accepts(byteCount: g.bytes.count, count: g.count) else {
                throw SwiftPSError(.invalidArgument,
                                   "key \(keyName(g.key)): a payload of \(g.bytes.count) bytes is not \(g.count) elements of \(g.dtype)")
            }
            let values = try floats(g)  // decoding also checks compressed payloads (top-k indices in range)
            if allowNonFinite { continue }
            let largest = Optimizer.maxMagnitude(values, count: g.count)
            guard largest.isFinite else {
                throw SwiftPSError(.invalidArgument, "key \(keyName(g.key)): gradient holds NaN or Inf; refused")
            }
            guard slots[g.key]!.updateStaysFinite(gradient: values, largest: largest) else {
                throw SwiftPSError(.invalidArgument, "key \(keyName(g.key)): a gradient as large as \(largest) would take "
                                   + "weights or optimizer state past the largest fp32; refused")
            }
        }
    }

    /// A key present twice; a scan for the usual few tensors, a set (one allocation) for many.
    private func firstDuplicateKey(_ gradients: [TensorView]) -> UInt64? {
        if gradients.count <= 16 {
            for (index, g) in gradients.enumerated() where gradients[..<index].contains(where: { $0.key == g.key }) {
                return g.key
            }
            return nil
        }
        var seen = Set<UInt64>(minimumCapacity: gradients.count)
        return gradients.first { !seen.insert($0.key).inserted }?.key
    }

    /// Applies a validated push; returns each key's new version, in order.
    public func apply(_ gradients: [TensorView]) -> [UInt64] {
        gradients.map { g in
            let values: UnsafePointer<Float>
            do {
                values = try floats(g)
            } catch {
                preconditionFailure("apply of a push that validate did not pass: \(error)")
            }
            return slots[g.key]!.apply(gradient: values)
        }
    }

    /// BSP: applies several validated pushes as one update per key — for each key, the sum of its gradients in the
    /// order the pushes are given (rank order: the same bits on any number of servers and in every run), applied
    /// once. Keys go in order of first appearance.
    /// - Returns: the keys left as they were because their sum, or its update, would not stay finite (each push was
    ///   checked alone when it arrived; their sum can still overflow). None when `allowNonFinite`.
    @discardableResult
    public func applySum(_ pushes: [[TensorView]]) -> [UInt64] {
        var skipped: [UInt64] = []
        var order: [UInt64] = []
        var byKey: [UInt64: [TensorView]] = [:]
        for push in pushes {
            for g in push {
                if byKey[g.key] == nil { order.append(g.key) }
                byKey[g.key, default: []].append(g)
            }
        }
        for key in order {
            let gradients = byKey[key]!, count = gradients[0].count
            if sumScratch.count < count {
                sumScratch.deallocate()
                sumScratch = .allocate(capacity: count)
            }
            let sum = sumScratch.baseAddress!
            for (index, g) in gradients.enumerated() {
                guard let values = try? floats(g) else { preconditionFailure("applySum of a push that validate did not pass") }
                if index == 0 {
                    sum.update(from: values, count: count)
                } else {
                    for i in 0..<count { sum[i] += values[i] }
                }
            }
            if !allowNonFinite {
                let largest = Optimizer.maxMagnitude(sum, count: count)
                guard largest.isFinite, slots[key]!.updateStaysFinite(gradient: sum, largest: largest) else {
                    skipped.append(key)
                    continue
                }
            }
            _ = apply([TensorView(key: key, dtype: .f32, count: count,
                                  bytes: UnsafeRawBufferPointer(start: sum, count: count * 4))])
        }
        return skipped
    }

    /// Sets initial values: each tensor's payload (f32, bf16 or f16) replaces its key's weights. Checked whole first
    /// (known keys, none twice, element counts, dtypes, byte lengths, finite values unless `allowNonFinite`, and no
    /// update applied yet: only version 0 may be assigned), so a refused call changes nothing.
    public func assign(_ values: [TensorView]) throws(SwiftPSError) {
        if let key = firstDuplicateKey(values) {
            throw SwiftPSError(.invalidArgument, "key \(keyName(key)) appears twice in one assign")
        }
        for v in values {
            guard let slot = slots[v.key] else { throw SwiftPSError(.notFound, "unknown key \(keyName(v.key))") }
            guard v.dtype.isDense else {
                throw SwiftPSError(.invalidArgument, "key \(keyName(v.key)): values are assigned as f32, bf16 or f16, not \(v.dtype)")
            }
            guard v.count == slot.count, v.dtype.accepts(byteCount: v.bytes.count, count: v.count) else {
                throw SwiftPSError(.invalidArgument, "key \(keyName(v.key)): \(v.bytes.count) bytes of \(v.dtype) sent for \(v.count) elements, the key has \(slot.count)")
            }
            guard !slot.pushed else {
                throw SwiftPSError(.failedPrecondition, "key \(keyName(v.key)) has taken pushes; Assign sets initial values only")
            }
            let values = try floats(v)
            guard allowNonFinite || Optimizer.maxMagnitude(values, count: v.count).isFinite else {
                throw SwiftPSError(.invalidArgument, "key \(keyName(v.key)): values hold NaN or Inf; refused")
            }
        }
        for v in values {
            let source = try floats(v)
            slots[v.key]!.makeWeightsWritable()
            let slot = slots[v.key]!
            slot.weights.pointer.update(from: source, count: slot.count)
            slots[v.key]!.bound = Slot.counted(slot.weights.pointer, slot.state.baseAddress!, count: slot.count,
                                               buffers: optimizer.stateBuffers)
            slots[v.key]!.assigned = true
        }
    }

    /// Lends a key's current weights and version; nil for an unknown key.
    public func withWeights<R>(of key: UInt64, _ body: (UnsafeBufferPointer<Float>, UInt64) throws -> R) rethrows -> R? {
        guard let slot = slots[key] else { return nil }
        return try body(UnsafeBufferPointer(start: slot.weights.pointer, count: slot.count), slot.version)
    }

    /// A key's current weights as a buffer the caller may keep (a send of them, without a copy), and their version;
    /// nil for an unknown key. The store never writes a buffer that someone else holds, so it keeps these values.
    public func sharedWeights(of key: UInt64) -> (weights: FloatBuffer, version: UInt64)? {
        slots[key].map { ($0.weights, $0.version) }
    }

    /// The payload as fp32: in place when it already is aligned fp32, else decoded into the scratch buffer (valid
    /// until the next call; the caller keeps the payload's frame alive meanwhile).
    private func floats(_ view: TensorView) throws(SwiftPSError) -> UnsafePointer<Float> {
        let base = view.bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 4)!
        if view.dtype == .f32 && Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
            return base.assumingMemoryBound(to: Float.self)
        }
        if alignedScratch.count < view.count {
            alignedScratch.deallocate()
            alignedScratch = .allocate(capacity: view.count)
        }
        try GradientCodec.decode(view.dtype, payload: UnsafeRawBufferPointer(start: base, count: view.bytes.count),
                                 count: view.count, into: alignedScratch.baseAddress!)
        return UnsafePointer(alignedScratch.baseAddress!)
    }
}

/// `param:chunk` — how keys are shown to people.
public func keyName(_ key: UInt64) -> String { "\(key >> 32):\(key & 0xFFFF_FFFF)" }
