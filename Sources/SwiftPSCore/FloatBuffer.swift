/// A heap array of floats with a stable address, for BLAS calls and zero-copy sends.
///
/// `@unchecked Sendable`: the memory is shared by reference; the owner guarantees that nobody writes while a send
/// of it is in flight (a worker reuses a gradient buffer only after the server acknowledged the push that read it).
public final class FloatBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int, repeating value: Float = 0) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: value, count: max(count, 1))
    }

    /// A buffer whose contents the caller writes before reading.
    public init(uninitializedCount count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
    }

    deinit { pointer.deallocate() }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public var array: [Float] { Array(buffer) }
}
