internal import CAllocatorTuning

/// glibc's malloc settings for large messages (one arena, mmap threshold at 32 MiB, no trimming), made by a C
/// constructor before `main` so that they hold for every thread: see `Sources/CAllocatorTuning/allocator_tuning.c`.
public enum AllocatorTuning {
    /// Whether the settings are in place in this process.
    public static var isApplied: Bool { swiftps_allocator_tuned() != 0 }

    /// How many malloc arenas the process has (1 while the settings hold); nil if glibc cannot tell.
    public static var arenaCount: Int? {
        let count = swiftps_allocator_arenas()
        return count < 0 ? nil : Int(count)
    }
}
