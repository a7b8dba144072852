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
        // Only a thread arena can show the bug: glibc's main arena never unmaps its heap. A new thread may be handed
        // the main arena when the process already has many arenas, so a few fresh threads are tried.
        var faults: [Int]?
        for _ in 0..<8 where faults == nil {
            faults = try await onDedicatedThread { Self.twoRoundsInAThreadArena() }
        }
        let measured = try #require(faults, "every thread tried was given glibc's main arena: nothing to measure")
        #expect(measured[1] < Self.pages / 100, "round 1 faulted \(measured[0]) pages, round 2 \(measured[1]) of \(Self.pages)")
    }

    /// Page faults of two rounds, each allocating and touching 128 MiB in 4 MiB blocks (two heaps' worth of a thread
    /// arena) on this thread and freeing it on another; nil when this thread allocates from the main arena.
    static func twoRoundsInAThreadArena() -> [Int]? {
        var faults: [Int] = []
        for _ in 0..<2 {
            let before = threadPageFaults()
            let buffers = Blocks((0..<blocks).map { _ in malloc(blockBytes)! })
            guard !faults.isEmpty || inThreadArena(buffers.pointers[0]) else {
                buffers.pointers.forEach { free($0) }
                return nil
            }
            for block in buffers.pointers { memset(block, 1, blockBytes) }
            faults.append(threadPageFaults() - before)
            let freed = DispatchSemaphore(value: 0)
            Thread {
                for block in buffers.pointers { free(block) }
                freed.signal()
            }.start()
            freed.wait()
        }
        return faults
    }

    /// The main arena grows the brk heap; every other arena's heaps are mapped above it.
    static func inThreadArena(_ block: UnsafeMutableRawPointer) -> Bool {
        UInt(bitPattern: block) > UInt(bitPattern: sbrk(0))
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
