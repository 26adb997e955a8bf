import BasaltCore

/// Why a write waited (or was slowed) before it was applied.
public enum WriteStallCause: String, CaseIterable, Sendable {
    /// The table's memtable was full and `maxPendingFlushesPerTable` memtables were waiting for
    /// their flush.
    case flushBacklog = "flush_backlog"
    /// All memtables together held more than `memtableHeapSpaceBytes` (default twice `memtableTotalLimitBytes`).
    case memtableMemory = "memtable_memory"
    /// The commit log's in-memory buffer was full (its writes to disk are behind).
    case commitLogBuffer = "commitlog_buffer"
    /// The table had more SSTables than `compactionDebtSlowdownSSTables`: writers are slowed in
    /// proportion so compaction catches up instead of reads degrading without bound.
    case compactionDebt = "compaction_debt"
}

/// One latency histogram per ``WriteStallCause``: only waits that happened are recorded, so the
/// count is the number of stalled writes and the sum the time lost.
public final class WriteStallHistograms: Sendable {
    private let byCause: [BucketHistogram]

    /// `commitLogBuffer` is the commit log's own histogram (it measures waits under its lock).
    init(commitLogBuffer: BucketHistogram) {
        byCause = WriteStallCause.allCases.map { $0 == .commitLogBuffer ? commitLogBuffer : BucketHistogram.latency() }
    }

    /// The histogram of one cause.
    public subscript(_ cause: WriteStallCause) -> BucketHistogram {
        byCause[WriteStallCause.allCases.firstIndex(of: cause)!]
    }
}
