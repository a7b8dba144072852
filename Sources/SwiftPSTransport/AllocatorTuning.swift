internal import CZeroMQ

/// Keeps large message buffers in the heap, reused, instead of fresh pages for every message.
///
/// libzmq mallocs a buffer for each large frame it receives and frees it when the frame is done. glibc serves
/// allocations above its mmap threshold with fresh mmapped pages, and trims the top of the heap once more than the
/// trim threshold is free: either way the next 4 MiB frame page-faults all over again (ps-lite slows to a third at
/// 64 MiB from exactly this). Raising the mmap threshold to glibc's maximum (32 MiB, which covers our 4 MiB chunks)
/// and not trimming keeps steady-state traffic on memory that is already mapped.
enum AllocatorTuning {
    static let applied: Bool = {
        swiftps_keep_large_buffers_mapped()
        return true
    }()
}
