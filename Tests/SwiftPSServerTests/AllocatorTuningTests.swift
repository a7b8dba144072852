import Foundation
import Testing
import SwiftPSTransport

/// The malloc settings are in place before any test runs, and hold for threads started later: every thread
/// allocates from glibc's one main arena, so large message buffers are reused instead of mapped afresh.
@Suite struct AllocatorTuningTests {
    @Test func everyThreadSharesOneArena() throws {
        #expect(AllocatorTuning.isApplied)
        let done = DispatchGroup()
        for _ in 0..<4 {
            done.enter()
            Thread {
                // A thread's first malloc picks its arena; by default glibc gives each new thread one of its own.
                let block = [UInt8](repeating: 1, count: 1 << 20)
                precondition(block[0] == 1)
                done.leave()
            }.start()
        }
        done.wait()
        #expect(AllocatorTuning.arenaCount == 1)
    }
}
