/// When commit-log writes are made durable before a write is acknowledged.
public enum CommitLogSyncMode: Hashable, Sendable {
    /// fsync before acknowledging; writers that arrive while an fsync runs share the next one.
    /// While writers overlap (the last sync released more than one), a sync starts `window` after
    /// the previous one started, or as soon as as many writers wait as that one released, so more
    /// writers share it; a lone writer is never held back. The default window is 2 ms
    /// (docs/storage.md, "Group commit").
    case group(windowNanos: UInt64)
    /// Cassandra's name for fsync-before-acknowledging without a window: the same as
    /// `group(windowNanos: 0)`.
    case batch
    /// Acknowledge at once; buffered records are written within a millisecond or so and fsynced
    /// every `intervalNanos`. A machine crash may lose up to one interval of writes.
    case periodic(intervalNanos: UInt64)

    public static let `default` = CommitLogSyncMode.group(windowNanos: 2_000_000)

    var acknowledgesBeforeSync: Bool {
        if case .periodic = self { return true }
        return false
    }
}

/// Settings of a ``StorageEngine``.
public struct StorageConfig: Sendable {
    public var commitLogSync: CommitLogSyncMode = .default
    /// Segment files roll over at this size; a single mutation may not exceed half of it.
    public var commitLogSegmentBytes = 32 << 20
    /// Segments are written over zero-filled files prepared ahead at their full size, so a sync
    /// writes the data and not the file's size too; off, each segment grows as it is written.
    public var commitLogPreallocation = true
    /// Bytes the commit log may hold in memory not yet written; writers wait (blocking API) or get
    /// ``StorageError/overloaded(_:)`` (non-blocking API) beyond it.
    public var commitLogBufferLimitBytes = 16 << 20
    /// Space the live commit-log segments may take (Cassandra's `commitlog_total_space`): past it,
    /// a roll-over flushes the tables whose records keep the oldest segment alive, so a table
    /// written too slowly to fill its memtable does not keep every segment (and replay) growing.
    /// nil: the smaller of 8 GiB and a quarter of the commit log's file system.
    public var commitLogTotalSpaceBytes: Int? = nil
    /// A table's memtable is switched and flushed once it holds this much memory.
    public var memtableSizeLimitBytes = 64 << 20
    /// Each memtable is switched at a random share between `1 - memtableFlushJitter` and 1 of
    /// ``memtableSizeLimitBytes``: replicas receive the same writes, and with one threshold they
    /// would fill and flush (and then compact) at the same moment, competing for the same cores.
    public var memtableFlushJitter = 0.2
    /// Memory all memtables together (active and being flushed) may hold: above it the largest is
    /// flushed; above twice it writes wait (blocking API) or fail overloaded (non-blocking API).
    public var memtableTotalLimitBytes = 512 << 20
    /// Memory all memtables together may hold before writes wait (blocking API) or fail overloaded
    /// (non-blocking API); nil for twice ``memtableTotalLimitBytes``. Cassandra's
    /// `memtable_heap_space`, with ``memtableTotalLimitBytes`` its cleanup threshold times it.
    public var memtableHeapSpaceBytes: Int? = nil
    /// Memtables per table that may wait for or undergo flushing; when reached, writes to the table
    /// wait (blocking API) or fail overloaded (non-blocking API).
    public var maxPendingFlushesPerTable = 2
    /// How long a blocking write waits for room before failing overloaded, nanoseconds.
    public var writeBlockTimeoutNanos: UInt64 = 30_000_000_000
    public var flushThreads = 1
    public var compactionThreads = 1
    /// How much lower than request handling flush and compaction threads run (nice values added;
    /// 0 for the same priority). They get a smaller share of the cores while requests want them;
    /// under sustained overload the flush backlog then slows writers down
    /// (`maxPendingFlushesPerTable`). Attached-index builds run at `compactionNiceness`.
    public var flushNiceness: Int32 = 5
    public var compactionNiceness: Int32 = 10
    /// Fraction of a core an automatic flush or compaction uses while it is ahead (see
    /// ``CPUPacer``): it sleeps after each millisecond of CPU so that request handling on the same
    /// cores waits about a millisecond for them instead of a whole flush. A flush is ahead while
    /// memtables hold no more than ``memtableTotalLimitBytes``, no other flush is queued and the
    /// table's new memtable fills more slowly than the flush progresses; a compaction while the
    /// table has fewer than half ``compactionDebtSlowdownSSTables`` SSTables and no other compaction
    /// is queued. Flushes and compactions someone waits for (drain, `nodetool flush`, major
    /// compaction) run flat out, and so do running ones while such a wait lasts. 1 (the engine's
    /// default) never paces; the server sets 0.25.
    public var backgroundCPUShare = 1.0
    /// Compaction write rate limit, bytes per second; 0 for unlimited.
    public var compactionThroughputBytesPerSecond = 64 << 20
    /// Whether compactions start automatically after flushes.
    public var automaticCompaction = true
    /// Above this many SSTables in a table, blocking writers are slowed smoothly (about 2 µs per
    /// write for each SSTable over it) so compaction catches up instead of reads degrading without
    /// bound; 0 disables (pacing then takes the default as the table's debt). Non-blocking writes
    /// are not delayed.
    public var compactionDebtSlowdownSSTables = StorageConfig.defaultCompactionDebtSlowdownSSTables
    public static let defaultCompactionDebtSlowdownSSTables = 32
    /// Partitions whose encoded body exceeds this get a row index with a block every this many
    /// bytes, so clustering slices decode only the blocks that can hold them.
    public var rowIndexBlockBytes = 64 << 10
    /// Capacity of the decompressed-chunk cache shared by all tables.
    public var chunkCacheBytes = 64 << 20
    /// Memory for the SSTables' token-prefix indexes (4 bytes a partition), which let a seek skip
    /// SSTables without reading their index; SSTables opened past it seek through their index.
    public var seekIndexBytesLimit = 128 << 20
    /// What a commit-log write or sync failure does (default: refuse writes, probe, resume).
    public var commitFailurePolicy = CommitFailurePolicy.stop
    /// While writes are refused under ``CommitFailurePolicy/stop``, how often the commit log is tried.
    public var commitLogProbeIntervalNanos: UInt64 = 1_000_000_000
    /// What a flush or compaction I/O failure or a damaged SSTable does beyond retrying and quarantine.
    public var diskFailurePolicy = DiskFailurePolicy.bestEffort

    public init() {}
}
