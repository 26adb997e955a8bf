import BasaltCore
import BasaltIndex
import BasaltStorage
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The node's storage engine as a ``NodeComponent``: opened before the node talks to anyone, with
/// the commit log replayed, and closed (memtables flushed) after everything else has stopped.
///
/// The tables to open come from `initialTables`, called once at start: the schema that was
/// persisted in the data directory, so that commit-log records of every table can be replayed.
/// Later schema changes add, alter and drop tables on ``engine`` directly.
public final class StorageComponent: NodeComponent, @unchecked Sendable {
    // @unchecked: `opened` is written once in `start` (before any service component can read it)
    // and cleared in `stop` (after every service component stopped); both under `lock`.
    public let name = "storage"
    public let stage = NodeComponentStage.storage

    /// A table to open at start-up, with its keyspace's `durable_writes`.
    public typealias InitialTable = (schema: TableSchema, durableWrites: Bool)

    private let initialTables: @Sendable () throws -> [InitialTable]
    /// The node's storage-attached (vector and term) indexes, kept in step with the engine.
    public let indexes = AttachedIndexRegistry(logger: Logger(label: "basalt.index"))
    private let lock = Lock()
    private var opened: StorageEngine?

    public init(initialTables: @escaping @Sendable () throws -> [InitialTable] = { [] }) {
        self.initialTables = initialTables
    }

    /// The open engine. Only valid between start and stop: service components are started after
    /// and stopped before this component, so they may rely on it.
    public var engine: StorageEngine {
        guard let e = lock.withLock({ opened }) else {
            preconditionFailure("the storage engine is used outside the node's start/stop window")
        }
        return e
    }

    /// The engine while it is open, else nil: what admin routes use, since the admin endpoint serves
    /// before the node's components start and after they stop.
    public var openEngine: StorageEngine? { lock.withLock { opened } }

    public func prepare(_ context: NodeContext) throws {
        context.metrics.register("storage") { [weak self] out in
            guard let e = self?.lock.withLock({ self?.opened }) else { return }
            StorageComponent.write(e.counters, into: &out)
            StorageComponent.writeLatencies(e, into: &out)
        }
        context.metrics.register("vector_index") { [indexes] out in
            let c = indexes.counters
            out.counter("basalt_vector_index_vectors_indexed_total", help: "Vectors added to memtable indexes", c.vectorsIndexed)
            out.counter("basalt_vector_index_vectors_refused_total", help: "Vector cells not indexed (wrong length, NaN, zero for cosine)", c.vectorsRefused)
            out.counter("basalt_vector_index_segments_loaded_total", help: "SSTable index segments read from their files", c.segmentsLoaded)
            out.counter("basalt_vector_index_segments_built_total", help: "SSTable index segments built from SSTable data", c.segmentsBuilt)
            out.counter("basalt_vector_index_segments_quarantined_total", help: "Damaged index files moved aside and rebuilt", c.segmentsQuarantined)
            out.counter("basalt_vector_index_searches_total", help: "Index searches served", c.searches)
        }
        context.metrics.register("term_index") { [indexes] out in
            let c = indexes.terms.counters
            out.counter("basalt_term_index_terms_indexed_total", help: "Terms added to memtable term indexes", c.termsIndexed)
            out.counter("basalt_term_index_segments_loaded_total", help: "SSTable term segments read from their files", c.segmentsLoaded)
            out.counter("basalt_term_index_segments_built_total", help: "SSTable term segments built from SSTable data", c.segmentsBuilt)
            out.counter("basalt_term_index_segments_quarantined_total", help: "Damaged term index files moved aside and rebuilt", c.segmentsQuarantined)
            out.counter("basalt_term_index_queries_total", help: "Index row queries served", c.queries)
        }
    }

    public func start(_ context: NodeContext) async throws {
        let config = StorageComponent.storageConfig(context.config)
        let requestStop = context.requestStop
        let engine = try StorageEngine(directory: context.dataDirectory, config: config, clock: context.clock,
                                       logger: context.logger, attachedIndexes: indexes) { response, error in
            switch response {
            case .exitProcess: exit(1)
            case .stopNode: requestStop("disk failure: \(error.summary)")
            }
        }
        do {
            // initialTables defines the schema's vector indexes: each SSTable's index file is read
            // as the table opens, and replay rebuilds the memtables' indexes.
            for t in try initialTables() { try engine.addTable(t.schema, durableWrites: t.durableWrites) }
            let report = try engine.replayCommitLog()
            indexes.attach(engine)
            context.logger.info("storage open", metadata: ["replay": "\(report)"])
        } catch {
            engine.close(flush: false)
            throw error
        }
        lock.withLock { opened = engine }
    }

    public func stop() async {
        guard let engine = lock.withLock({ () -> StorageEngine? in defer { opened = nil }; return opened }) else { return }
        engine.close(flush: true)
    }

    /// The engine's settings from the node's configuration.
    public static func storageConfig(_ c: NodeConfig) -> StorageConfig {
        var s = StorageConfig()
        switch c.commitLogSync {
        case .group: s.commitLogSync = .group(windowNanos: UInt64(c.commitLogGroupWindowMillis * 1_000_000))
        case .batch: s.commitLogSync = .batch
        case .periodic: s.commitLogSync = .periodic(intervalNanos: UInt64(c.commitLogSyncPeriodMillis) * 1_000_000)
        }
        s.commitLogSegmentBytes = c.commitLogSegmentSizeMiB << 20
        s.commitLogPreallocation = c.commitLogPreallocateSegments
        if c.commitLogTotalSpaceMiB > 0 { s.commitLogTotalSpaceBytes = c.commitLogTotalSpaceMiB << 20 }
        s.memtableSizeLimitBytes = c.memtableSizeMiB << 20
        s.memtableTotalLimitBytes = max(s.memtableTotalLimitBytes, 4 * s.memtableSizeLimitBytes)
        if c.memtableHeapSpaceMiB > 0 {
            s.memtableHeapSpaceBytes = c.memtableHeapSpaceMiB << 20
            s.memtableTotalLimitBytes = max(1 << 20, Int(Double(c.memtableHeapSpaceMiB << 20) * c.memtableCleanupThreshold))
        }
        s.compactionThroughputBytesPerSecond = c.compactionThroughputMiBPerSecond << 20
        s.commitFailurePolicy = c.commitFailurePolicy
        s.diskFailurePolicy = c.diskFailurePolicy
        s.compactionThreads = c.resolvedConcurrentCompactors
        s.flushThreads = c.resolvedMemtableFlushWriters
        s.backgroundCPUShare = c.backgroundCPUShare
        return s
    }

    static func write(_ c: StorageCounters, into out: inout PrometheusText) {
        out.counter("basalt_storage_writes_total", help: "Mutations applied", c.writes)
        out.counter("basalt_storage_written_bytes_total", help: "Bytes of mutations applied", c.bytesWritten)
        out.counter("basalt_storage_commitlog_bytes_total", help: "Bytes appended to the commit log", c.commitLogBytes)
        out.counter("basalt_storage_commitlog_preallocated_bytes_total", help: "Zero bytes written to prepare commit-log segments", c.commitLogPreallocatedBytes)
        out.counter("basalt_storage_commitlog_segments_reused_total", help: "Commit-log segments kept to be written over as later ones", c.commitLogSegmentsReused)
        out.counter("basalt_storage_commitlog_space_flushes_total", help: "Flushes started because the live commit-log segments exceeded commitlog_total_space_in_mb", c.commitLogSpaceFlushes)
        out.counter("basalt_storage_reads_total", help: "Partition reads", c.reads)
        out.counter("basalt_storage_scans_total", help: "Token-range scan pages", c.scans)
        out.counter("basalt_storage_flushes_total", help: "Memtables flushed", c.flushes)
        out.counter("basalt_storage_flushed_bytes_total", help: "Bytes written by flushes", c.bytesFlushed)
        out.counter("basalt_storage_compactions_total", help: "Compactions completed", c.compactions)
        out.counter("basalt_storage_compaction_read_bytes_total", help: "Bytes read by compaction", c.compactionBytesRead)
        out.counter("basalt_storage_compaction_written_bytes_total", help: "Bytes written by compaction", c.compactionBytesWritten)
        out.counter("basalt_storage_bloom_negatives_total", help: "SSTables skipped by their bloom filter", c.bloomNegatives)
        out.counter("basalt_storage_bloom_false_positives_total", help: "Bloom filter false positives", c.bloomFalsePositives)
        out.counter("basalt_storage_chunk_cache_hits_total", help: "Chunk cache hits", c.chunkCacheHits)
        out.counter("basalt_storage_chunk_cache_misses_total", help: "Chunk cache misses", c.chunkCacheMisses)
        out.counter("basalt_storage_quarantined_sstables_total", help: "SSTables quarantined as corrupt", c.quarantinedSSTables)
        out.counter("basalt_storage_overloaded_writes_total", help: "Writes delayed or refused at a memory bound", c.overloadedWrites)
        out.gauge("basalt_storage_live_sstables", help: "SSTables being served", Double(c.liveSSTables))
        out.gauge("basalt_storage_commitlog_refusing_writes", help: "1 while writes are refused because the commit log cannot be written",
                  Double(c.commitLogRefusingWrites))
        out.counter("basalt_storage_commitlog_failures_total", help: "Commit-log write or sync failures", c.commitLogFailures)
        out.counter("basalt_storage_refused_writes_total", help: "Writes refused because the commit log could not be written", c.refusedWrites)
        out.counter("basalt_storage_flush_failures_total", help: "Failed flush attempts (retried; the memtable is kept)", c.flushFailures)
        out.counter("basalt_storage_compaction_failures_total", help: "Failed compactions (inputs stay live)", c.compactionFailures)
        out.gauge("basalt_storage_pending_compactions", help: "Compactions the strategies would run now (estimate, running ones included)", Double(c.pendingCompactions))
        out.family("basalt_storage_background_paused_seconds_total", type: .counter,
                   help: "Time flushes and compactions slept to leave the cores to requests (background_cpu_share)",
                   samples: [([], Double(c.backgroundPausedNanos) / 1e9)])
    }

    /// The engine's latency histograms (seconds): what makes a write or a read wait.
    static func writeLatencies(_ e: StorageEngine, into out: inout PrometheusText) {
        out.histogram("basalt_storage_flush_duration_seconds", help: "Wall time of each memtable flush", e.flushDurations.snapshot())
        out.histogram("basalt_storage_compaction_duration_seconds", help: "Wall time of each compaction, throttling included", e.compactionDurations.snapshot())
        out.histogram("basalt_storage_commitlog_sync_seconds", help: "Duration of each commit-log fsync", e.commitLogSyncLatency.snapshot())
        out.histogram("basalt_storage_write_stall_seconds", help: "Time a write waited for room before it was applied, by cause",
                      samples: WriteStallCause.allCases.map { ([("cause", $0.rawValue)], e.writeStalls[$0].snapshot()) })
        writeTableHistograms(e, into: &out)
    }

    /// Per table that served a local read or write: read and write latency, SSTables and cells per
    /// read (tables never used here stay out, so the series grow with the tables in use only).
    static func writeTableHistograms(_ e: StorageEngine, into out: inout PrometheusText) {
        var reads: [(labels: [(String, String)], value: BucketHistogram.Snapshot)] = []
        var writes = reads, sstables = reads, cells = reads
        for t in e.tableSchemas.sorted(by: { ($0.keyspace, $0.name) < ($1.keyspace, $1.name) }) {
            guard let h = try? e.histograms(tableId: t.id) else { continue }
            let labels = [("keyspace", t.keyspace), ("table", t.name)]
            let read = h.readLatency.snapshot(), write = h.writeLatency.snapshot()
            guard read.count > 0 || write.count > 0 else { continue }
            reads.append((labels, read))
            writes.append((labels, write))
            sstables.append((labels, h.sstablesPerRead.snapshot()))
            cells.append((labels, h.cellsPerRead.snapshot()))
        }
        guard !reads.isEmpty else { return }
        out.histogram("basalt_table_read_latency_seconds", help: "Local partition reads of a table, on this node's storage engine", samples: reads)
        out.histogram("basalt_table_write_latency_seconds", help: "Local writes to a table, on this node's storage engine (waits for room included)",
                      samples: writes)
        out.histogram("basalt_table_sstables_per_read", help: "SSTables a local partition read touched (past token range and bloom filter)",
                      samples: sstables)
        out.histogram("basalt_table_cells_per_read", help: "Cells in the partitions local reads returned", samples: cells)
    }
}
