import Foundation
import Testing
import SwiftPSTransport

/// Large buffers freed by one thread stay mapped for the next ones another thread allocates, as libzmq's I/O thread
/// allocates every large frame it receives and the handler frees it when done.
@Suite struct AllocatorTuningTests {
    static let blocks = 32, blockBytes = 4 << 20
    static var pages: Int { blocks * blockBytes / 4096 }

    @Test func freedFrameBuffersAreReusedWithoutPageFaults() async throws {
        _ = AllocatorTuning.applied
        // Each round allocates and touches 128 MiB in 4 MiB blocks (two heaps' worth of a thread arena) on one thread
        // and frees it on another; the second round must find the pages the first one faulted in.
        let faults = try await onDedicatedThread { () -> [Int] in
            (0..<2).map { _ in
                let before = Self.threadPageFaults()
                let buffers = Blocks((0..<Self.blocks).map { _ in malloc(Self.blockBytes)! })
                for block in buffers.pointers { memset(block, 1, Self.blockBytes) }
                let touched = Self.threadPageFaults() - before
                let freed = DispatchSemaphore(value: 0)
                Thread {
                    for block in buffers.pointers { free(block) }
                    freed.signal()
                }.start()
                freed.wait()
                return touched
            }
        }
        #expect(faults[1] < Self.pages / 100, "round 1 faulted \(faults[0]) pages, round 2 \(faults[1]) of \(Self.pages)")
    }

    /// Minor page faults of the calling thread so far.
    static func threadPageFaults() -> Int {
        var usage = rusage()
        let rusageThread: Int32 = 1  // RUSAGE_THREAD, a GNU extension Glibc does not export to Swift
        getrusage(rusageThread, &usage)
        return usage.ru_minflt
    }
}

/// Pointers handed to the thread that frees them. `@unchecked Sendable`: the allocating thread stops using them first.
private final class Blocks: @unchecked Sendable {
    let pointers: [UnsafeMutableRawPointer]
    init(_ pointers: [UnsafeMutableRawPointer]) { self.pointers = pointers }
}
