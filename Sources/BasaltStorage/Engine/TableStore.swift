import BasaltCore
import Logging
import Synchronization

/// One table's storage: its current memtable, memtables being flushed, and live SSTables.
///
/// Locking: `writeLock` serialises writers of the table (commit-log append + memtable insert, so
/// commit-log order equals memtable order) and memtable switches. `stateLock` guards the read view
/// (memtables and SSTables), which readers copy out and then use without locks; SSTables are
/// immutable and memtables synchronise internally.
final class TableStore: @unchecked Sendable {
    // @unchecked: mutable state is guarded by `writeLock` (write side) and `stateLock` (read view),
    // as documented on each field.
    struct View {
        var memtables: [Memtable]
        var sstables: [SSTableReader]
    }

    let directory: String
    let logger: Logger
    // Guarded by stateLock.
    private(set) var schema: TableSchema
    private(set) var comparator: ClusteringComparator
    let writeLock = ConditionLock()
    let stateLock = Lock()
    /// Whether the table was ever sought (a token scan from a position) since the engine opened:
    /// only then do its SSTables keep seek indexes.
    let sought = Atomic<Bool>(false)
    // Guarded by writeLock (and stateLock for the swap).
    private(set) var memtable: Memtable
    private(set) var memtableBytes = 0
    /// The share of ``StorageConfig/memtableSizeLimitBytes`` at which the active memtable is
    /// switched, drawn anew for each memtable (nil until drawn; see
    /// ``StorageConfig/memtableFlushJitter``).
    var flushFraction: Double?
    /// The engine-wide account of memtable memory.
    let memory: MemtableMemory
    // Guarded by stateLock.
    private(set) var flushing: [Memtable] = []
    private var flushOrder: [(Memtable, Bool)] = []
    private(set) var sstables: [SSTableReader] = [] {
        didSet { sstableCount.store(sstables.count, ordering: .relaxed) }
    }
    /// `sstables.count`, readable without the lock (writers check compaction debt on every write).
    let sstableCount = Atomic<Int>(0)
    /// Local read and write figures (`basalt admin tablehistograms`, per-table metrics).
    let histograms = TableHistograms()
    /// Write delay owed to compaction debt and not yet slept, nanoseconds.
    let owedWriteDelay = Atomic<Int>(0)
    var compacting: Set<Int> = []
    var dropped = false
    /// Incremented by truncation; background work started in an older epoch discards its output.
    private(set) var epoch = 0
    private var nextGeneration: Int
    private var nextMemtableId = 1
    var scratch = ByteWriter(capacity: 4096)
    /// Whether writes go through the commit log (guarded by writeLock).
    private(set) var durableWrites = true

    func setDurableWrites(_ on: Bool) { writeLock.withLock { durableWrites = on } }

    /// Commit-log position of the last TRUNCATE: replay skips the table's records before it.
    private(set) var truncatedAt: CommitLogPosition?
    var quarantined: [StorageError] = []

    init(schema: TableSchema, directory: String, commitLogPosition: CommitLogPosition, memory: MemtableMemory, logger: Logger) {
        self.memory = memory
        self.schema = schema
        id = schema.id
        name = "\(schema.keyspace).\(schema.name)"
        comparator = ClusteringComparator(schema)
        self.directory = directory
        self.logger = logger
        memtable = Memtable(id: 0, commitLogLower: commitLogPosition)
        nextGeneration = 1
    }

    let id: UUIDValue
    /// `keyspace.table`, for messages.
    let name: String

    var view: View {
        stateLock.withLock { View(memtables: [memtable] + flushing, sstables: sstables) }
    }

    var currentSchema: (TableSchema, ClusteringComparator) { stateLock.withLock { (schema, comparator) } }

    /// The comparator alone (cheaper than copying the schema on every write).
    var comparatorSnapshot: ClusteringComparator { stateLock.withLock { comparator } }

    func alter(_ s: TableSchema) {
        stateLock.withLock {
            schema = s
            comparator = ClusteringComparator(s)
        }
    }

    func allocateGeneration() -> Int {
        stateLock.withLock {
            defer { nextGeneration += 1 }
            return nextGeneration
        }
    }

    /// Opens the complete SSTables in the directory, removes leftovers of interrupted writes and
    /// quarantines SSTables that fail to open.
    func loadSSTables(cache: ChunkCache, seekIndex: SeekIndexBudget? = nil, onQuarantine: (StorageError) -> Void) throws {
        try FileSystem.makeDirectories(directory)
        // Make the (possibly new) table and keyspace directory entries durable before any SSTable
        // relies on them.
        var parent = directory
        for _ in 0 ..< 2 {
            guard let slash = parent.lastIndex(of: "/") else { break }
            parent = String(parent[..<slash])
            try FileSystem.syncDirectory(parent)
        }
        var generations: [Int: Set<SSTableDescriptor.Component>] = [:]
        var maxGen = 0
        for name in try FileSystem.list(directory) {
            if name.hasPrefix("tmp-") || name.hasSuffix(".tmp") {
                try FileSystem.remove(directory + "/" + name)
                continue
            }
            guard let (d, c) = SSTableDescriptor.parse(path: directory + "/" + name) else { continue }
            generations[d.generation, default: []].insert(c)
            maxGen = max(maxGen, d.generation)
        }
        for q in (try? FileSystem.list(directory + "/quarantine")) ?? [] {
            if let (d, _) = SSTableDescriptor.parse(path: q) { maxGen = max(maxGen, d.generation) }
        }
        try loadTruncationRecord()
        var readers: [SSTableReader] = []
        for (gen, comps) in generations.sorted(by: { $0.key < $1.key }) {
            let d = SSTableDescriptor(directory: directory, generation: gen)
            guard comps.contains(.toc) else {
                // Interrupted publish: the TOC is renamed last, so this SSTable never became live.
                for c in comps { try FileSystem.remove(d.path(c)) }
                continue
            }
            do {
                readers.append(try SSTableReader(descriptor: d, cache: cache, seekBudget: seekIndex, withSeekIndex: false,
                                                 filterFalsePositiveRate: currentSchema.0.params.bloomFilterFPChance))
            } catch let e as StorageError {
                quarantineFiles(d)
                quarantined.append(e)
                onQuarantine(e)
            }
        }
        stateLock.withLock {
            sstables = readers
            nextGeneration = maxGen + 1
        }
    }

    var truncationRecordPath: String { directory + "/truncated-at" }

    /// Reads the truncation record: "BSTR", version 1, segment (u64 BE), offset (u32 BE), CRC32C.
    func loadTruncationRecord() throws {
        guard FileSystem.exists(truncationRecordPath) else { return }
        let pos = try SSTableMetadata.checked(FileSystem.readAll(truncationRecordPath), magic: "BSTR", path: truncationRecordPath) { r throws(DecodeError) in
            CommitLogPosition(segment: try r.readUInt64(), offset: try r.readUInt32())
        }
        stateLock.withLock { truncatedAt = pos }
    }

    /// Durably records that everything before `position` was truncated.
    func writeTruncationRecord(_ position: CommitLogPosition) throws {
        var w = ByteWriter(capacity: 24)
        w.writeBytes(Array("BSTR".utf8))
        w.writeUInt8(1)
        w.writeUInt64(position.segment)
        w.writeUInt32(position.offset)
        w.writeUInt32LE(Checksum.crc32c(w.bytes))
        let tmp = truncationRecordPath + ".tmp"
        try FileSystem.writeFile(tmp, w.bytes)
        try FileSystem.rename(tmp, truncationRecordPath)
        try FileSystem.syncDirectory(directory)
        stateLock.withLock { truncatedAt = position }
    }

    /// Moves an SSTable's files into `<table dir>/quarantine/`.
    func quarantineFiles(_ d: SSTableDescriptor) {
        let qdir = directory + "/quarantine"
        try? FileSystem.makeDirectories(qdir)
        for c in SSTableDescriptor.Component.allCases where FileSystem.exists(d.path(c)) {
            do { try FileSystem.rename(d.path(c), qdir + "/bs-\(d.generation)-\(c.rawValue)") } catch {
                logger.error("could not move SSTable file to quarantine", metadata: ["path": "\(d.path(c))", "error": "\(error)"])
            }
        }
    }

    /// Removes a damaged SSTable from the live set and moves its files aside. Returns false when it
    /// was already gone.
    func quarantine(_ r: SSTableReader, _ error: StorageError) -> Bool {
        let removed: Bool = stateLock.withLock {
            guard let k = sstables.firstIndex(where: { $0 === r }) else { return false }
            sstables.remove(at: k)
            quarantined.append(error)
            return true
        }
        if removed {
            logger.error("SSTable quarantined", metadata: ["sstable": "\(r.descriptor)", "error": "\(error)"])
            quarantineFiles(r.descriptor)
        }
        return removed
    }

    // MARK: memtable switching (callers hold writeLock)

    /// Records the active memtable's new size (caller holds writeLock).
    func noteMemtableSize(_ size: Int) {
        memory.add(size - memtableBytes)
        memtableBytes = size
    }

    /// Freezes the current memtable at `position` and starts a new one; returns the frozen one.
    func switchMemtable(at position: CommitLogPosition) -> Memtable {
        let old = memtable
        old.commitLogUpper = position
        old.accountedBytes = memtableBytes
        let fresh = Memtable(id: nextMemtableId, epoch: currentEpoch, commitLogLower: position)
        nextMemtableId += 1
        stateLock.withLock {
            memtable = fresh
            flushing.append(old)
            flushOrder.append((old, false))
        }
        memtableBytes = 0
        return old
    }

    var pendingFlushes: Int { stateLock.withLock { flushing.count } }

    /// Publishes the SSTable flushed from `m` (nil when it was empty) unless the table was truncated
    /// or dropped since `startedIn`; returns the commit-log position below which every flushed
    /// memtable of this table is now on disk, if it advanced.
    func completeFlush(_ m: Memtable, reader: SSTableReader?, epoch startedIn: Int) -> (published: Bool, clean: CommitLogPosition?) {
        stateLock.withLock {
            guard !dropped, epoch == startedIn else { return (false, nil) }
            if let reader { sstables.append(reader) }
            flushing.removeAll { $0 === m }
            if let k = flushOrder.firstIndex(where: { $0.0 === m }) { flushOrder[k].1 = true }
            var clean: CommitLogPosition?
            while let first = flushOrder.first, first.1 {
                clean = first.0.commitLogUpper
                flushOrder.removeFirst()
            }
            return (true, clean)
        }
    }

    /// Drops every memtable and SSTable (TRUNCATE); returns the SSTables to delete.
    func truncate(at position: CommitLogPosition) -> [SSTableReader] {
        let fresh = Memtable(id: nextMemtableId, epoch: currentEpoch + 1, commitLogLower: position)
        nextMemtableId += 1
        memory.release(memtableBytes)
        memtableBytes = 0
        return stateLock.withLock {
            epoch += 1
            memtable = fresh
            flushing = []
            flushOrder = []
            let old = sstables
            sstables = []
            compacting = []
            return old
        }
    }

    /// Replaces compacted SSTables by their output; false (and nothing changes) when the table was
    /// truncated or dropped meanwhile.
    func replace(_ inputs: [SSTableReader], with outputs: [SSTableReader], epoch startedIn: Int) -> Bool {
        stateLock.withLock {
            for r in inputs { compacting.remove(r.descriptor.generation) }
            guard !dropped, epoch == startedIn else { return false }
            let gens = Set(inputs.map(\.descriptor.generation))
            sstables.removeAll { gens.contains($0.descriptor.generation) }
            sstables.append(contentsOf: outputs)
            return true
        }
    }

    var currentEpoch: Int { stateLock.withLock { epoch } }
    /// The epoch, for callers already holding `stateLock`.
    var epochLocked: Int { epoch }

    /// The oldest write timestamp that data outside `excluding` may hold for a partition: the
    /// minimum over memtables and over other SSTables whose bloom filter may hold the key.
    func maxPurgeableTimestamp(hash: (UInt64, UInt64), token: Int64, excluding: Set<Int>) -> Int64 {
        let v = view
        var minTs = Int64.max
        for m in v.memtables where !m.isEmpty { minTs = min(minTs, m.minTimestamp) }
        for s in v.sstables where !excluding.contains(s.descriptor.generation) {
            if token >= s.stats.minToken && token <= s.stats.maxToken && s.mightContain(hash) {
                minTs = min(minTs, s.stats.minTimestamp)
            }
        }
        return minTs
    }
}
