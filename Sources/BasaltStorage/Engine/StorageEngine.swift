import BasaltCore
import Logging

/// A node's local storage: one commit log shared by all tables, and per table a memtable, the
/// memtables being flushed and the SSTables on disk (see docs/storage.md).
///
/// Layout of the data directory: `<dir>/commitlog/CommitLog-<id>.log` and
/// `<dir>/data/<keyspace>/<table>-<table id hex>/bs-<generation>-<Component>`.
///
/// Start-up: `init` opens the directory; add every table with ``addTable(_:)``; then call
/// ``replayCommitLog()`` once before serving writes. (``open(directory:config:tables:clock:logger:)``
/// does all three.)
///
/// Threading: every method is thread-safe. Writes never block on disk I/O inside the engine's
/// locks: ``apply(_:completion:)`` returns at once and calls back on the commit-log sync thread
/// once the write is durable per the sync mode; ``apply(_:)-(Mutation)`` blocks the caller until then;
/// the async variant suspends. Reads are synchronous: memtables are in memory and SSTable chunks
/// come from the memory-mapped data files (page cache) and the chunk cache; call them from a
/// thread that may block on page faults, not from an event loop if the data set exceeds memory.
public final class StorageEngine: @unchecked Sendable {
    // @unchecked: `tables` is guarded by `tablesLock`; every other stored property is immutable or
    // synchronises itself.
    public let directory: String
    public let config: StorageConfig
    let clock: any Clock
    let logger: Logger
    let commitLog: CommitLog
    let cache: ChunkCache
    /// Memory of the SSTables' token-prefix indexes (`StorageConfig.seekIndexBytesLimit`).
    let seekIndex: SeekIndexBudget
    let metrics = StorageMetrics()
    /// Time writers waited for room, per cause.
    public let writeStalls: WriteStallHistograms
    let flushExecutor: BackgroundExecutor
    let compactionExecutor: BackgroundExecutor
    /// Builds seek indexes the first seeks of a table ask for (see ``requestSeekIndexes(_:_:)``).
    let indexExecutor: BackgroundExecutor
    let throughput: ThroughputLimiter
    let memtableMemory: MemtableMemory
    let relievingMemory = Atomic<Bool>(false)
    /// Callers waiting for flushes or compactions to finish (``flush(tableId:)``, ``flushAll()``,
    /// ``waitForBackgroundWork()``, major compaction, ``close(flush:)``): while any wait, nothing paces.
    let backgroundWaiters = Atomic<Int>(0)
    private let tablesLock = Lock()
    private var tables: [UUIDValue: TableStore] = [:]
    /// Segment ids found at start-up, replayed by `replayCommitLog()`.
    private var oldSegments: [UInt64]
    /// Holds an exclusive `flock` on `<dir>/LOCK` while open: one engine per data directory.
    private let lockFD: Int32
    let closedFlag = Atomic<Bool>(false)
    let compactionLock = Lock()
    /// Held while compaction deletes the files of SSTables that left the read view, and while a
    /// snapshot hard-links the files of the view it took (see `snapshot(tag:keyspace:schemaText:)`).
    let sstableFilesLock = Lock()
    /// Indexes attached to the tables' data, told of every write, flush and compaction.
    public let attachedIndexes: (any AttachedIndexes)?
    var compactionQueued: Set<UUIDValue> = []
    /// Per table, the backoff before the next try after a failed compaction (under `compactionLock`).
    var compactionRetryNanos: [UUIDValue: UInt64] = [:]
    /// Told when a failure policy wants the node to exit or stop (see ``DiskFailurePolicy``).
    let onDiskFailure: @Sendable (DiskFailureResponse, StorageError) -> Void
    /// Set once the owner was asked to stop the node, so it is asked only once.
    let stopRequested = Atomic<Bool>(false)

    /// `onDiskFailure` is called when ``StorageConfig/commitFailurePolicy`` or
    /// ``StorageConfig/diskFailurePolicy`` want the process to exit or the node to stop; without it
    /// the engine only refuses writes and retries.
    public init(directory: String, config: StorageConfig = StorageConfig(), clock: any Clock = SystemClock(), logger: Logger,
                attachedIndexes: (any AttachedIndexes)? = nil,
                onDiskFailure: @escaping @Sendable (DiskFailureResponse, StorageError) -> Void = { _, _ in }) throws {
        self.attachedIndexes = attachedIndexes
        self.onDiskFailure = onDiskFailure
        self.directory = directory
        self.config = config
        self.clock = clock
        self.logger = logger
        try FileSystem.makeDirectories(directory + "/data")
        let lockPath = directory + "/LOCK"
        let fd = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw FileSystem.fail(lockPath, "open") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            Glibc.close(fd)
            throw StorageError.invalid("data directory \(directory) is in use by another storage engine")
        }
        lockFD = fd
        let logDir = directory + "/commitlog"
        try FileSystem.makeDirectories(logDir)
        let existing = try FileSystem.list(logDir).compactMap(CommitLogSegmentFormat.segmentId(fileName:)).sorted()
        oldSegments = existing
        // Segment ids grow across restarts: above every old segment and above the wall clock in µs
        // (so they stay above ids referenced by SSTables whose segments were already deleted).
        let first = max((existing.last ?? 0) + 1, UInt64(max(0, clock.now().micros)))
        commitLog = try CommitLog(directory: logDir, mode: config.commitLogSync, segmentBytes: config.commitLogSegmentBytes,
                                  bufferLimitBytes: config.commitLogBufferLimitBytes, firstSegmentId: first,
                                  failurePolicy: config.commitFailurePolicy, probeIntervalNanos: config.commitLogProbeIntervalNanos,
                                  preallocateSegments: config.commitLogPreallocation,
                                  onPreallocated: { [metrics] n in metrics.add(metrics.commitLogPreallocatedBytes, n) },
                                  onReused: { [metrics] in metrics.add(metrics.commitLogSegmentsReused, 1) },
                                  totalSpaceBytes: config.commitLogTotalSpaceBytes ?? min(8 << 30, (FileSystem.fileSystemBytes(logDir) ?? .max) / 4),
                                  onFatal: { e in onDiskFailure(.exitProcess, e) }, logger: logger)
        writeStalls = WriteStallHistograms(commitLogBuffer: commitLog.bufferWaits)
        cache = ChunkCache(capacityBytes: config.chunkCacheBytes)
        seekIndex = SeekIndexBudget(limitBytes: config.seekIndexBytesLimit)
        flushExecutor = BackgroundExecutor(name: "flush", threads: config.flushThreads, queueLimit: 1 << 16, niceness: config.flushNiceness)
        compactionExecutor = BackgroundExecutor(name: "compaction", threads: config.compactionThreads, queueLimit: 1024, niceness: config.compactionNiceness)
        indexExecutor = BackgroundExecutor(name: "seekindex", threads: 1, queueLimit: 1 << 16, niceness: config.compactionNiceness)
        throughput = ThroughputLimiter(bytesPerSecond: config.compactionThroughputBytesPerSecond)
        memtableMemory = MemtableMemory(limit: config.memtableTotalLimitBytes, hardLimit: config.memtableHeapSpaceBytes)
    }

    /// Opens a data directory with its tables and replays the commit log.
    public static func open(directory: String, config: StorageConfig = StorageConfig(), tables: [TableSchema], clock: any Clock = SystemClock(), logger: Logger) throws -> (StorageEngine, CommitLogReplayReport) {
        let e = try StorageEngine(directory: directory, config: config, clock: clock, logger: logger)
        for t in tables { try e.addTable(t) }
        let report = try e.replayCommitLog()
        return (e, report)
    }

    func tableDirectory(_ s: TableSchema) -> String {
        let hex = s.id.bytes.hexString
        return "\(directory)/data/\(s.keyspace)/\(s.name)-\(hex)"
    }

    func table(_ id: UUIDValue) throws(StorageError) -> TableStore {
        guard let t = tablesLock.withLock({ tables[id] }) else { throw .unknownTable(id) }
        return t
    }

    var allTables: [TableStore] { tablesLock.withLock { Array(tables.values) } }

    /// The segments found at start-up, handed out once.
    func oldSegmentsToReplay() -> [UInt64] {
        tablesLock.withLock {
            defer { oldSegments = [] }
            return oldSegments
        }
    }

    // MARK: schema

    /// Adds a table (opening its existing SSTables), or updates its schema when already present.
    /// With `durableWrites` false (a keyspace's `durable_writes = false`) its writes skip the
    /// commit log: acknowledged at once, and lost in a crash unless flushed.
    public func addTable(_ schema: TableSchema, durableWrites: Bool = true) throws {
        if let existing = tablesLock.withLock({ tables[schema.id] }) {
            existing.alter(schema)
            existing.setDurableWrites(durableWrites)
            return
        }
        let t = TableStore(schema: schema, directory: tableDirectory(schema), commitLogPosition: commitLog.currentPosition, memory: memtableMemory, logger: logger)
        t.setDurableWrites(durableWrites)
        try t.loadSSTables(cache: cache, seekIndex: seekIndex) { _ in metrics.add(metrics.quarantinedSSTables, 1) }
        if let attachedIndexes {
            for r in t.view.sstables { attachedIndexes.willPublish(table: schema.id, sstable: SSTableContents(r), origin: .startup) }
        }
        let maxSegment = t.view.sstables.flatMap(\.stats.commitLogIntervals).map(\.upper.segment).max() ?? 0
        commitLog.advanceSegmentId(above: maxSegment)
        tablesLock.withLock { tables[schema.id] = t }
        scheduleCompaction(t)
    }

    /// Changes a table's schema (ALTER TABLE: columns, dropped columns, parameters).
    public func alterTable(_ schema: TableSchema) throws {
        try table(schema.id).alter(schema)
    }

    /// Drops a table: forgets it and deletes its files.
    public func dropTable(id: UUIDValue) throws {
        guard let t = tablesLock.withLock({ tables.removeValue(forKey: id) }) else { throw StorageError.unknownTable(id) }
        t.writeLock.withLock {
            t.stateLock.withLock { t.dropped = true }
            _ = t.truncate(at: commitLog.currentPosition)
        }
        attachedIndexes?.didClear(table: id, dropped: true)
        commitLog.forget(table: id)
        // Snapshots outlive the table (as in Cassandra): everything else of its directory goes.
        for name in (try? FileSystem.list(t.directory)) ?? [] where name != Self.snapshotsDirectoryName {
            try FileSystem.removeTree(t.directory + "/" + name)
        }
        if !FileSystem.exists(t.directory + "/" + Self.snapshotsDirectoryName) { try FileSystem.removeTree(t.directory) }
    }

    /// Removes every row of a table (TRUNCATE).
    public func truncateTable(id: UUIDValue) throws {
        let t = try table(id)
        let old: [SSTableReader] = try t.writeLock.withLock {
            let position = commitLog.currentPosition
            try t.writeTruncationRecord(position)
            return t.truncate(at: position)
        }
        attachedIndexes?.didClear(table: id, dropped: false)
        commitLog.forget(table: id)
        for r in old { deleteFiles(r) }
    }

    public func schema(of id: UUIDValue) throws -> TableSchema { try table(id).currentSchema.0 }

    func deleteFiles(_ r: SSTableReader) {
        cache.invalidate(reader: r.uid)
        // TOC first, so a crash halfway leaves an incomplete SSTable that start-up removes.
        for c in [SSTableDescriptor.Component.toc] + SSTableDescriptor.Component.allCases.filter({ $0 != .toc }) {
            do { try FileSystem.remove(r.descriptor.path(c)) } catch {
                logger.warning("could not delete SSTable file", metadata: ["path": "\(r.descriptor.path(c))", "error": "\(error)"])
            }
        }
    }

    // MARK: introspection

    /// Counters since the engine was opened.
    public var counters: StorageCounters {
        var c = metrics.snapshot()
        c.liveSSTables = allTables.reduce(0) { $0 + $1.view.sstables.count }
        c.pendingCompactions = pendingCompactionEstimate()
        (c.chunkCacheHits, c.chunkCacheMisses) = cache.statistics
        c.seekIndexBytes = seekIndex.usedBytes
        let log = commitLog.writeState
        c.commitLogFailures = log.failures
        c.commitLogRefusingWrites = log.refusal == nil ? 0 : 1
        return c
    }

    /// Descriptions of the errors that made SSTables of a table quarantined.
    public func quarantineReports(tableId: UUIDValue) throws -> [StorageError] {
        let t = try table(tableId)
        return t.stateLock.withLock { t.quarantined }
    }

    /// Data-file paths of a table's live SSTables.
    public func sstablePaths(tableId: UUIDValue) throws -> [String] {
        try table(tableId).view.sstables.map { $0.descriptor.path(.data) }
    }

    /// Commit-log segments currently on disk.
    public var commitLogSegmentIds: [UInt64] { commitLog.liveSegmentIds }

    /// Why writes are refused now (the commit log cannot be written), or nil while they are accepted.
    public var writeRefusal: StorageError? { commitLog.writeState.refusal }

    /// Counts an SSTable quarantined for damage and tells the policy.
    func noteQuarantined(_ error: StorageError) {
        metrics.add(metrics.quarantinedSSTables, 1)
        reportDiskFailure(.corruptSSTable, error)
    }

    /// Hands a data-directory failure to the policy: exit or stop the node when it says so (a stop
    /// is asked for once).
    func reportDiskFailure(_ kind: DiskFailureKind, _ error: StorageError) {
        switch config.diskFailurePolicy.response(to: kind) {
        case nil: return
        case .exitProcess?:
            logger.critical("data directory failure; exiting (disk_failure_policy die)", metadata: ["error": "\(error.summary)"])
            onDiskFailure(.exitProcess, error)
        case .stopNode?:
            guard !stopRequested.exchange(true, ordering: .acquiringAndReleasing) else { return }
            logger.critical("data directory failure; stopping the node (disk_failure_policy \(config.diskFailurePolicy.rawValue))",
                            metadata: ["error": "\(error.summary)"])
            onDiskFailure(.stopNode, error)
        }
    }

    /// Flushes every memtable (if `flush`), waits for background work, and stops all threads.
    public func close(flush: Bool = true) {
        if closedFlag.exchange(true, ordering: .acquiringAndReleasing) { return }
        if flush { try? flushAndWait(allTables, bestEffort: true) }
        indexExecutor.shutdown(dropQueued: true)
        compactionExecutor.shutdown(dropQueued: true)
        flushExecutor.shutdown(dropQueued: false)
        commitLog.close()
        flock(lockFD, LOCK_UN)
        Glibc.close(lockFD)
    }

    deinit { close(flush: false) }

    var isClosed: Bool { closedFlag.load(ordering: .acquiring) }
}

import Synchronization
#if canImport(Glibc)
import Glibc
#endif
