import BasaltCore

/// Reconciliation of partition contents, the one merge used between memtables, SSTables,
/// compaction inputs and replica responses (Cassandra's rules: the higher timestamp wins; on ties a
/// tombstone, then the greater value; deletions shadow everything written at or before them).
extension PartitionUpdate {
    /// The reconciliation of two versions of the same partition, in canonical form.
    public static func merge(_ a: PartitionUpdate, _ b: PartitionUpdate, _ cmp: ClusteringComparator) -> PartitionUpdate {
        if a.isEmpty { return b.normalized(cmp) }
        if b.isEmpty { return a.normalized(cmp) }
        var out = PartitionUpdate()
        out.partitionDeletion = maxDeletion(a.partitionDeletion, b.partitionDeletion)
        out.rangeTombstones = a.rangeTombstones + b.rangeTombstones
        out.staticRow = mergeRows(a.staticRow, b.staticRow, cmp)
        var rows: [Row] = []
        rows.reserveCapacity(a.rows.count + b.rows.count)
        var i = 0, j = 0
        while i < a.rows.count || j < b.rows.count {
            if j == b.rows.count { rows.append(a.rows[i]); i += 1; continue }
            if i == a.rows.count { rows.append(b.rows[j]); j += 1; continue }
            let c = cmp.compare(a.rows[i].clustering, b.rows[j].clustering)
            if c < 0 { rows.append(a.rows[i]); i += 1 } else if c > 0 { rows.append(b.rows[j]); j += 1 } else {
                rows.append(mergeRows(a.rows[i], b.rows[j], cmp)!)
                i += 1; j += 1
            }
        }
        out.rows = rows
        out.applyShadowing(cmp)
        return out
    }

    /// Merges any number of versions (in any order; the result does not depend on it).
    public static func merge(_ parts: [PartitionUpdate], _ cmp: ClusteringComparator) -> PartitionUpdate {
        guard var acc = parts.first else { return .empty }
        if parts.count == 1 { return acc.normalized(cmp) }
        for p in parts.dropFirst() { acc = merge(acc, p, cmp) }
        return acc
    }

    /// This update in canonical form: rows sorted and unique, cells sorted and unique, range
    /// tombstones sorted, shadowed data removed.
    public func normalized(_ cmp: ClusteringComparator) -> PartitionUpdate {
        var out = self
        var sorted = true
        for k in rows.indices.dropFirst() where cmp.compare(rows[k - 1].clustering, rows[k].clustering) >= 0 {
            sorted = false
            break
        }
        if !sorted {
            let s = rows.sorted { cmp.compare($0.clustering, $1.clustering) < 0 }
            var merged: [Row] = []
            merged.reserveCapacity(s.count)
            for r in s {
                if let last = merged.last, cmp.compare(last.clustering, r.clustering) == 0 {
                    merged[merged.count - 1] = Self.mergeRows(last, r, cmp)!
                } else {
                    merged.append(Self.normalizedRow(r, cmp))
                }
            }
            out.rows = merged
        } else {
            // Rewrite only rows that change, so an already-canonical update is not copied.
            for k in out.rows.indices where !Self.isCanonicalRow(out.rows[k], cmp) {
                out.rows[k] = Self.normalizedRow(out.rows[k], cmp)
            }
        }
        if let s = out.staticRow, !Self.isCanonicalRow(s, cmp) { out.staticRow = Self.normalizedRow(s, cmp) }
        out.applyShadowing(cmp)
        return out
    }

    /// Whether a row's cells and complex deletions are sorted and unique.
    static func isCanonicalRow(_ r: Row, _ cmp: ClusteringComparator) -> Bool {
        for k in r.cells.indices.dropFirst() where cmp.compareCells(r.cells[k - 1], r.cells[k]) >= 0 { return false }
        for k in r.complexDeletions.indices.dropFirst() where !r.complexDeletions[k - 1].column.utf8.lexicographicallyPrecedes(r.complexDeletions[k].column.utf8) {
            return false
        }
        return true
    }

    static func normalizedRow(_ r: Row, _ cmp: ClusteringComparator) -> Row {
        if isCanonicalRow(r, cmp) { return r }
        return mergeRows(Row(clustering: r.clustering), r, cmp)!
    }

    @inlinable
    static func maxDeletion(_ a: DeletionTime?, _ b: DeletionTime?) -> DeletionTime? {
        guard let x = a else { return b }
        guard let y = b else { return x }
        return x < y ? y : x
    }

    /// Merges two versions of one row (same clustering) without applying outer deletions.
    static func mergeRows(_ a: Row?, _ b: Row?, _ cmp: ClusteringComparator) -> Row? {
        guard let a else { return b }
        guard let b else { return a }
        var r = Row(clustering: a.clustering)
        switch (a.liveness, b.liveness) {
        case let (x?, y?): r.liveness = x.supersedes(y) ? x : y
        case let (x, y): r.liveness = x ?? y
        }
        r.deletion = maxDeletion(a.deletion, b.deletion)
        // Complex deletions: one per column, the later one.
        var cds: [ComplexDeletion] = []
        for cd in a.complexDeletions + b.complexDeletions {
            if let k = cds.firstIndex(where: { $0.column == cd.column }) {
                if cds[k].deletion < cd.deletion { cds[k] = cd }
            } else {
                cds.append(cd)
            }
        }
        cds.sort { $0.column.utf8.lexicographicallyPrecedes($1.column.utf8) }
        r.complexDeletions = cds
        r.cells = mergeCells(sortedCells(a.cells, cmp), sortedCells(b.cells, cmp), cmp)
        return r
    }

    static func sortedCells(_ cells: [Cell], _ cmp: ClusteringComparator) -> [Cell] {
        for k in cells.indices.dropFirst() where cmp.compareCells(cells[k - 1], cells[k]) >= 0 {
            // Unsorted or duplicated: sort and reconcile duplicates.
            var out: [Cell] = []
            for c in cells.sorted(by: { cmp.compareCells($0, $1) < 0 }) {
                if let last = out.last, cmp.compareCells(last, c) == 0 {
                    out[out.count - 1] = Cell.reconcile(last, c)
                } else {
                    out.append(c)
                }
            }
            return out
        }
        return cells
    }

    static func mergeCells(_ a: [Cell], _ b: [Cell], _ cmp: ClusteringComparator) -> [Cell] {
        if a.isEmpty { return b }
        if b.isEmpty { return a }
        var out: [Cell] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count { out.append(a[i]); i += 1; continue }
            if i == a.count { out.append(b[j]); j += 1; continue }
            let c = cmp.compareCells(a[i], b[j])
            if c < 0 { out.append(a[i]); i += 1 } else if c > 0 { out.append(b[j]); j += 1 } else {
                out.append(Cell.reconcile(a[i], b[j]))
                i += 1; j += 1
            }
        }
        return out
    }

    /// Removes everything a deletion in this partition shadows, and deletions that a broader one
    /// supersedes; sorts and deduplicates range tombstones.
    mutating func applyShadowing(_ cmp: ClusteringComparator) {
        let pd = partitionDeletion
        if !rangeTombstones.isEmpty {
            var rts = rangeTombstones.filter { pd == nil || !pd!.deletes($0.deletion.markedForDeleteAt) }
            rts.sort { Self.rangeTombstoneOrder($0, $1, cmp) < 0 }
            var dedup: [RangeTombstone] = []
            dedup.reserveCapacity(rts.count)
            for rt in rts where dedup.last != rt { dedup.append(rt) }
            rangeTombstones = dedup
        }
        if let s = staticRow {
            let shadowed = Self.shadow(s, by: pd)
            staticRow = shadowed.isEmpty ? nil : shadowed
        }
        if pd == nil && rangeTombstones.isEmpty {
            // Only row-level deletions can shadow; skip the outer lookups.
            var k = 0
            while k < rows.count {
                if rows[k].deletion != nil || !rows[k].complexDeletions.isEmpty {
                    rows[k] = Self.shadow(rows[k], by: nil)
                }
                if rows[k].isEmpty { rows.remove(at: k) } else { k += 1 }
            }
            return
        }
        // Sweep rows and range tombstones (both sorted by start) together, keeping the tombstones
        // that have started and not yet ended: O(rows × open tombstones), not O(rows × tombstones).
        var out: [Row] = []
        out.reserveCapacity(rows.count)
        var nextRT = 0
        var open: [RangeTombstone] = []
        for r in rows {
            while nextRT < rangeTombstones.count, cmp.isAfter(r.clustering, start: rangeTombstones[nextRT].start) {
                open.append(rangeTombstones[nextRT])
                nextRT += 1
            }
            if !open.isEmpty { open.removeAll { !cmp.isBefore(r.clustering, end: $0.end) } }
            var covering: DeletionTime?
            for rt in open { covering = Self.maxDeletion(covering, rt.deletion) }
            let s = Self.shadow(r, by: Self.maxDeletion(pd, covering))
            if !s.isEmpty { out.append(s) }
        }
        rows = out
    }

    /// A row with everything at or below `outer` (and its own deletions) removed.
    static func shadow(_ row: Row, by outer: DeletionTime?) -> Row {
        var r = row
        if let d = r.deletion, let o = outer, o.deletes(d.markedForDeleteAt) { r.deletion = nil }
        let eff = maxDeletion(outer, r.deletion)
        if let e = eff, let l = r.liveness, e.deletes(l.timestamp) { r.liveness = nil }
        if let e = eff, !r.complexDeletions.isEmpty {
            r.complexDeletions.removeAll { e.deletes($0.deletion.markedForDeleteAt) }
        }
        if eff == nil && r.complexDeletions.isEmpty { return r }
        let cds = r.complexDeletions
        r.cells.removeAll { c in
            if let e = eff, e.deletes(c.timestamp) { return true }
            if c.path != nil {
                for cd in cds where cd.column == c.column && cd.deletion.deletes(c.timestamp) { return true }
            }
            return false
        }
        return r
    }

    /// A total order on range tombstones: start bound, end bound, then deletion.
    static func rangeTombstoneOrder(_ a: RangeTombstone, _ b: RangeTombstone, _ cmp: ClusteringComparator) -> Int {
        var c = cmp.compareBounds(a.start, aIsStart: true, b.start, bIsStart: true)
        if c != 0 { return c }
        c = cmp.compareBounds(a.end, aIsStart: false, b.end, bIsStart: false)
        if c != 0 { return c }
        if a.deletion != b.deletion { return a.deletion < b.deletion ? -1 : 1 }
        // Same position and deletion but different spelling of the bounds (e.g. exclusive vs inclusive
        // prefixes that denote the same place): order by their components so the order is total.
        return a.description == b.description ? 0 : (a.description < b.description ? -1 : 1)
    }
}
