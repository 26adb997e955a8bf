import BasaltCore

extension StorageEngine {
    /// The schemas of every open table.
    public var tableSchemas: [TableSchema] { allTables.map { $0.currentSchema.0 } }

    /// Bytes of live SSTables on disk, all tables (the node's Load).
    public var liveDataBytes: Int {
        allTables.reduce(0) { sum, t in sum + t.view.sstables.reduce(0) { $0 + $1.sizeOnDisk } }
    }

    /// Bytes of one table's live SSTables on disk.
    public func liveDataBytes(tableId: UUIDValue) throws -> Int {
        try table(tableId).view.sstables.reduce(0) { $0 + $1.sizeOnDisk }
    }

    /// Drops every partition whose token `keep` refuses (Cassandra's cleanup: data of ranges this
    /// node no longer replicates): flushes the table, then rewrites each of its SSTables without
    /// those partitions. Reads and writes continue meanwhile. Returns the table's bytes on disk
    /// before and after.
    @discardableResult
    public func cleanup(tableId: UUIDValue, keep: @escaping (Token) -> Bool) throws -> (before: Int, after: Int) {
        let t = try table(tableId)
        try flush(tableId: tableId)
        waitForCompactions()
        let before = try liveDataBytes(tableId: tableId)
        let (inputs, epoch): ([SSTableReader], Int) = t.stateLock.withLock {
            let free = t.sstables.filter { !t.compacting.contains($0.descriptor.generation) }
            t.compacting.formUnion(free.map(\.descriptor.generation))
            return (free, t.epochLocked)
        }
        var failure: Error?
        var outputs: [SSTableReader] = []
        for (i, r) in inputs.enumerated() {
            do { outputs += try compact(t, [r], epoch: epoch, keep: keep) } catch {
                failure = error
                _ = t.replace(Array(inputs[(i + 1)...]), with: [], epoch: -1)
                break
            }
        }
        settle(t, outputs)
        if let failure { throw failure }
        return (before, try liveDataBytes(tableId: tableId))
    }
}
