import BasaltCore

/// Restricting a canonical partition to what a read asked for, keeping the unfiltered shape.
extension PartitionUpdate {
    /// The rows in `slices`, the range tombstones overlapping them, the selected columns, and rows
    /// up to and including the `limit`-th live row at `now` (counted from the end when `reversed`).
    /// When the limit is reached, range tombstones lying wholly beyond the last row returned are
    /// dropped too.
    ///
    /// When the column selection removes every live cell of a live row that has no live marker, the
    /// row keeps a marker derived from the removed cell that lives longest, so the row still exists
    /// for the reader (CQL returns such a row with null columns).
    public func filtered(slices: [ClusteringSlice], columns: ColumnSelection, reversed: Bool, limit: Int, now: Int64, _ cmp: ClusteringComparator) -> PartitionUpdate {
        var out = PartitionUpdate(partitionDeletion: partitionDeletion)
        let everything = slices.count == 1 && slices[0] == .all
        if everything {
            out.rangeTombstones = rangeTombstones
        } else {
            out.rangeTombstones = rangeTombstones.filter { rt in slices.contains { cmp.overlaps(rt.slice, $0) } }
        }
        if let s = staticRow {
            let f = Self.selectColumns(s, columns, now: now, keepExistence: false)
            out.staticRow = f.isEmpty ? nil : f
        }
        var selected: [Row] = []
        selected.reserveCapacity(everything ? rows.count : 4)
        for r in rows where everything || slices.contains(where: { cmp.contains($0, r.clustering) }) {
            let f = Self.selectColumns(r, columns, now: now, keepExistence: true)
            if !f.isEmpty { selected.append(f) }
        }
        if limit < Int.max {
            var live = 0
            if reversed {
                var k = selected.count
                while k > 0 && live < limit {
                    k -= 1
                    if selected[k].isLive(now: now) { live += 1 }
                }
                if live >= limit {
                    selected.removeFirst(k)
                    // Only the tombstones that can touch what was returned: then the result does not
                    // depend on how far past the limit a replica happened to read.
                    if let first = selected.first?.clustering {
                        out.rangeTombstones.removeAll { cmp.compareBounds($0.end, aIsStart: false, ClusteringBound(first, inclusive: true), bIsStart: true) < 0 }
                    }
                }
            } else {
                var k = 0
                while k < selected.count && live < limit {
                    if selected[k].isLive(now: now) { live += 1 }
                    k += 1
                }
                if live >= limit {
                    selected.removeLast(selected.count - k)
                    if let last = selected.last?.clustering {
                        out.rangeTombstones.removeAll { cmp.compareBounds(ClusteringBound(last, inclusive: true), aIsStart: false, $0.start, bIsStart: true) < 0 }
                    }
                }
            }
        }
        out.rows = selected
        return out
    }

    static func selectColumns(_ r: Row, _ columns: ColumnSelection, now: Int64, keepExistence: Bool) -> Row {
        guard columns.names != nil else { return r }
        var out = r
        out.cells = r.cells.filter { columns.includes($0.column) }
        out.complexDeletions = r.complexDeletions.filter { columns.includes($0.column) }
        if keepExistence, out.cells.count != r.cells.count, !(out.liveness?.isLive(now: now) ?? false), !out.isLive(now: now) {
            // The row is live only through cells that were not selected: keep its existence.
            var best: Cell?
            for c in r.cells where c.isLive(now: now) && !columns.includes(c.column) {
                if let b = best, b.localDeletionTime >= c.localDeletionTime { continue }
                best = c
            }
            if let b = best {
                out.liveness = LivenessInfo(timestamp: b.timestamp, ttl: b.ttl, localExpirationTime: b.localDeletionTime)
            }
        }
        return out
    }
}
