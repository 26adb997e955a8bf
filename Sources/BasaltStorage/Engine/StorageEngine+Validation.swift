import BasaltCore

extension StorageEngine {
    /// Visits every partition of a table whose token lies in `range`, in token order, each merged
    /// from every memtable and SSTable (so data not yet flushed is included), without data of
    /// dropped columns, normalized (``PartitionUpdate/normalized(_:)``), with its timestamps, TTLs
    /// and tombstones: the content repair's validation hashes. Partitions left empty are skipped.
    /// Synchronous; reads in batches of `batch` keys, so memory stays bounded by one partition.
    public func forEachPartition(tableId: UUIDValue, range: TokenRange, batch: Int = 256,
                                 _ body: (PartitionResult) throws -> Void) throws {
        let t = try table(tableId)
        let (schema, cmp) = t.currentSchema
        for piece in range.unwrapped {
            let endToken: Int64? = piece.end == .min ? nil : piece.end.value
            var after: (Int64, [UInt8]?) = (piece.start.value, nil)
            while true {
                let keys = try nextKeys(t, after: after, endToken: endToken, limit: max(1, batch))
                if keys.isEmpty { break }
                for (token, key) in keys {
                    after = (token, key)
                    let merged = try readMerged(t, key: key, cmp)
                    let update = merged.update.withoutDroppedColumns(schema.droppedColumns).normalized(cmp)
                    if update.isEmpty { continue }
                    try body(PartitionResult(partitionKey: key, token: Token(token), update: update))
                }
            }
        }
    }
}
