internal import CZeroMQ

/// Keeps large message buffers in the heap, reused, instead of fresh pages for every message.
///
/// libzmq mallocs a buffer for each large frame it receives and frees it when the frame is done. glibc serves
/// allocations above its mmap threshold with fresh mmapped pages, and trims the top of the heap once more than the
/// trim threshold is free: either way the next 4 MiB frame page-faults all over again (ps-lite slows to a third at
/// 64 MiB from exactly this). Raising the mmap threshold to glibc's maximum (32 MiB, which covers our 4 MiB chunks)
/// and not trimming keeps steady-state traffic on memory that is already mapped.
///
/// Not trimming is not enough for threads other than the main one: libzmq's I/O thread allocates from its own arena,
/// made of 64 MiB heaps, and glibc unmaps a whole heap the moment its last chunk is freed, whatever the trim
/// threshold. A 64 MiB pull (16 frames of 4 MiB, several in flight) emptied and re-created such a heap about 70
/// times in one benchmark run, faulting its pages in every time. A top pad of 64 MiB (a heap's size) makes glibc keep
/// every heap it has made: the faults during the 64 MiB pull phase halved, and its goodput rose from 2.99–3.47 to
/// 3.76–3.96 GB/s in 3 interleaved pairs of runs.
public enum AllocatorTuning {
    public static let applied: Bool = {
        swiftps_keep_large_buffers_mapped()
        return true
    }()

    /// Returns free heap memory to the system (every arena; keeps `M_TOP_PAD` at the top of the main one).
    static func giveBackFreeMemory() { swiftps_give_back_free_memory() }
}
