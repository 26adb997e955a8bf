import BasaltCore

/// What storage-attached indexes (vector and column indexes kept beside memtables and SSTables,
/// as Cassandra 5's SAI does) learn from the engine, so that index data follows the table's data
/// through writes, flushes, compactions, truncation and restarts.
///
/// Guarantees the engine gives: ``didWrite(table:memtable:partitionKey:update:)`` is called for
/// every write (including commit-log replay) in commit-log order, under the table's write lock, so
/// a memtable receives no write after it was frozen; ``willPublish(table:sstable:origin:)`` is
/// called before an SSTable joins the read view and ``didRemove(table:sstables:memtables:)`` after
/// SSTables or memtables left it, so at every moment each live row is covered by the index of
/// some memtable or SSTable in the view (an index sees a row twice, never zero times).
public protocol AttachedIndexes: AnyObject, Sendable {
    /// A write entering memtable `memtable` (memtable ids grow within a table).
    func didWrite(table: UUIDValue, memtable: Int, partitionKey: [UInt8], update: PartitionUpdate)
    /// An SSTable about to be served: index it now (write its index files beside it).
    func willPublish(table: UUIDValue, sstable: SSTableContents, origin: SSTableOrigin)
    /// SSTables (by generation) and memtables no longer served: their index data can go.
    func didRemove(table: UUIDValue, sstables: [Int], memtables: [Int])
    /// Every memtable and SSTable of the table went at once (TRUNCATE, or the table was dropped).
    func didClear(table: UUIDValue, dropped: Bool)
}

/// Where a newly served SSTable comes from.
public enum SSTableOrigin: Hashable, Sendable {
    /// The flush of a memtable.
    case flush(memtable: Int)
    /// A compaction of these generations.
    case compaction(inputs: [Int])
    /// Found in the data directory at start-up.
    case startup
}

/// Read access to one SSTable's partitions, for building index data from it.
public struct SSTableContents: Sendable {
    let reader: SSTableReader

    init(_ reader: SSTableReader) { self.reader = reader }

    public var generation: Int { reader.descriptor.generation }
    /// The directory holding the SSTable's files; index files go beside them.
    public var directory: String { reader.descriptor.directory }
    /// Number of partitions (an upper bound).
    public var partitionCountBound: Int { reader.partitionCountBound }

    /// Visits every partition in token order. Throws ``StorageError`` on damaged data.
    public func forEachPartition(_ body: (_ key: [UInt8], _ partition: PartitionUpdate) throws -> Void) throws {
        try reader.forEachEntry { _, key, position, _ in
            let p = try key.withUnsafeBytes { try reader.readPartition(at: position, key: $0, useCache: false) }
            try body(key, p)
        }
    }
}

extension StorageEngine {
    /// The live SSTables of a table, for (re)building an index over data it already holds.
    public func attachedIndexSources(tableId: UUIDValue) throws -> [SSTableContents] {
        try table(tableId).view.sstables.map(SSTableContents.init)
    }


    /// Runs `body` while no write can enter the table, with the id of its active memtable and
    /// whether the table holds any data (memtables or SSTables): an index registered inside `body`
    /// sees every later write, and an index of an empty table is complete at once.
    public func withWritesPaused<R>(tableId: UUIDValue, _ body: (_ activeMemtable: Int, _ holdsData: Bool) throws -> R) throws -> R {
        let t = try table(tableId)
        t.writeLock.lock()
        defer { t.writeLock.unlock() }
        let v = t.view
        let holdsData = !v.sstables.isEmpty || v.memtables.contains { !$0.isEmpty }
        return try body(t.memtable.id, holdsData)
    }

    /// The directory of a table's files.
    public func tableDirectory(tableId: UUIDValue) throws -> String {
        try table(tableId).directory
    }
}
