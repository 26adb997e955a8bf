import BasaltCore

/// Dropping tombstones (and dead expired data) that are no longer needed, as compaction does.
extension PartitionUpdate {
    /// The partition without the deletions and dead cells that may be forgotten: their purge time
    /// (deletion second, or write second of expired data) is before `gcBefore`, and their timestamp
    /// is below `maxPurgeableTimestamp`, the oldest write that data elsewhere (other SSTables,
    /// memtables) may hold for this partition, so nothing they shadow can remain. Must be called on
    /// a canonical partition (shadowing applied).
    func purged(gcBefore: Int64, maxPurgeableTimestamp: Int64, now: Int64) -> PartitionUpdate {
        func purgeable(_ ts: Int64, _ time: Int64) -> Bool { time < gcBefore && ts < maxPurgeableTimestamp }
        var out = self
        if let d = partitionDeletion, purgeable(d.markedForDeleteAt, d.localDeletionTime) { out.partitionDeletion = nil }
        out.rangeTombstones.removeAll { purgeable($0.deletion.markedForDeleteAt, $0.deletion.localDeletionTime) }
        func purgeRow(_ r: Row) -> Row {
            var r = r
            if let d = r.deletion, purgeable(d.markedForDeleteAt, d.localDeletionTime) { r.deletion = nil }
            if let l = r.liveness, !l.isLive(now: now), purgeable(l.timestamp, l.localExpirationTime - Int64(l.ttl)) { r.liveness = nil }
            r.complexDeletions.removeAll { purgeable($0.deletion.markedForDeleteAt, $0.deletion.localDeletionTime) }
            r.cells.removeAll { !$0.isLive(now: now) && purgeable($0.timestamp, $0.purgeReferenceTime) }
            return r
        }
        if let s = out.staticRow {
            let p = purgeRow(s)
            out.staticRow = p.isEmpty ? nil : p
        }
        var rows: [Row] = []
        rows.reserveCapacity(out.rows.count)
        for r in out.rows {
            let p = purgeRow(r)
            if !p.isEmpty { rows.append(p) }
        }
        out.rows = rows
        return out
    }

    /// Whether `purged(gcBefore:…)` could remove anything: a deletion or dead-or-expiring datum
    /// whose purge time is before `gcBefore`. When false, compaction skips looking up the oldest
    /// timestamp held elsewhere (which reads the table's memtables and other SSTables' filters).
    func mayHavePurgeableData(gcBefore: Int64) -> Bool {
        func due(_ d: DeletionTime) -> Bool { d.localDeletionTime < gcBefore }
        if let d = partitionDeletion, due(d) { return true }
        if rangeTombstones.contains(where: { due($0.deletion) }) { return true }
        func rowMay(_ r: Row) -> Bool {
            if let d = r.deletion, due(d) { return true }
            if let l = r.liveness, l.ttl != 0, l.localExpirationTime - Int64(l.ttl) < gcBefore { return true }
            if r.complexDeletions.contains(where: { due($0.deletion) }) { return true }
            return r.cells.contains { $0.localDeletionTime != Cell.noExpiration && $0.purgeReferenceTime < gcBefore }
        }
        if let s = staticRow, rowMay(s) { return true }
        return rows.contains(where: rowMay)
    }

    /// The partition without data of dropped columns written at or before their drop time.
    func withoutDroppedColumns(_ dropped: [String: Int64]) -> PartitionUpdate {
        guard !dropped.isEmpty else { return self }
        func clean(_ r: Row) -> Row {
            var r = r
            r.cells.removeAll { c in dropped[c.column].map { c.timestamp <= $0 } ?? false }
            r.complexDeletions.removeAll { cd in dropped[cd.column].map { cd.deletion.markedForDeleteAt <= $0 } ?? false }
            return r
        }
        var out = self
        if let s = staticRow {
            let c = clean(s)
            out.staticRow = c.isEmpty ? nil : c
        }
        out.rows = rows.map(clean).filter { !$0.isEmpty }
        return out
    }
}
