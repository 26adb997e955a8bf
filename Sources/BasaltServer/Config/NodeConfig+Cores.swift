#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thread counts that follow the machine: a setting of 0 is derived from the cores this process
/// may run on.
extension NodeConfig {
    /// Processors online (at least 1).
    public static var availableCores: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// Event loops to run: `event_loops`, or one per core.
    public var resolvedEventLoops: Int { eventLoops > 0 ? eventLoops : Self.availableCores }

    /// Compaction threads: `concurrent_compactors`, or half the cores (1 to 8).
    public var resolvedConcurrentCompactors: Int { concurrentCompactors > 0 ? concurrentCompactors : min(8, max(1, Self.availableCores / 2)) }

    /// Flush threads: `memtable_flush_writers`, or a quarter of the cores (1 to 4).
    public var resolvedMemtableFlushWriters: Int { memtableFlushWriters > 0 ? memtableFlushWriters : min(4, max(1, Self.availableCores / 4)) }
}
