import BasaltCore
@testable import BasaltStorage

/// The simplest possible statement of the data model, for property tests: every write is kept as
/// a list of facts, and a read recomputes the live view from all facts by brute force. It shares
/// only the cell reconciliation tie-break (`Cell.reconcile`, tested on its own) with the engine.
struct ReferenceModel {
    private struct Facts {
        var cells: [(clustering: [[UInt8]]?, cell: Cell)] = []          // nil clustering: static
        var markers: [(clustering: [[UInt8]], liveness: LivenessInfo)] = []
        var rowDeletions: [(clustering: [[UInt8]], ts: Int64)] = []
        var rangeDeletions: [(slice: ClusteringSlice, ts: Int64)] = []
        var partitionDeletions: [Int64] = []
        var complexDeletions: [(clustering: [[UInt8]]?, column: String, ts: Int64)] = []
    }

    private var partitions: [[UInt8]: Facts] = [:]
    let cmp: ClusteringComparator

    init(_ schema: TableSchema) { cmp = ClusteringComparator(schema) }

    mutating func apply(_ m: Mutation) {
        var f = partitions[m.partitionKey] ?? Facts()
        let u = m.update
        if let d = u.partitionDeletion { f.partitionDeletions.append(d.markedForDeleteAt) }
        for rt in u.rangeTombstones { f.rangeDeletions.append((rt.slice, rt.deletion.markedForDeleteAt)) }
        if let s = u.staticRow {
            for c in s.cells { f.cells.append((nil, c)) }
            for cd in s.complexDeletions { f.complexDeletions.append((nil, cd.column, cd.deletion.markedForDeleteAt)) }
        }
        for r in u.rows {
            for c in r.cells { f.cells.append((r.clustering, c)) }
            if let l = r.liveness { f.markers.append((r.clustering, l)) }
            if let d = r.deletion { f.rowDeletions.append((r.clustering, d.markedForDeleteAt)) }
            for cd in r.complexDeletions { f.complexDeletions.append((r.clustering, cd.column, cd.deletion.markedForDeleteAt)) }
        }
        partitions[m.partitionKey] = f
    }

    mutating func truncate() { partitions = [:] }

    var keys: [[UInt8]] { Array(partitions.keys) }

    /// The live partition at `now`, rows in the slices, `reversed` order, at most `limit`, only the
    /// selected columns (a row stays when it is live through any column).
    func read(key: [UInt8], now: Int64, slices: [ClusteringSlice] = [.all], columns: ColumnSelection = .all, reversed: Bool = false, limit: Int = .max) -> LivePartition {
        guard let f = partitions[key] else { return LivePartition(partitionKey: key, staticRow: nil, rows: []) }
        let pd = f.partitionDeletions.max() ?? .min
        func rowDeletion(_ c: [[UInt8]]) -> Int64 {
            var d = pd
            for rd in f.rowDeletions where cmp.compare(rd.clustering, c) == 0 { d = max(d, rd.ts) }
            for rt in f.rangeDeletions where cmp.contains(rt.slice, c) { d = max(d, rt.ts) }
            return d
        }
        func same(_ a: [[UInt8]]?, _ b: [[UInt8]]?) -> Bool {
            switch (a, b) {
            case (nil, nil): true
            case let (x?, y?): cmp.compare(x, y) == 0
            default: false
            }
        }
        func liveCells(_ clustering: [[UInt8]]?, deletion: Int64) -> [LiveCell] {
            var winners: [Cell] = []
            for (c, cell) in f.cells where same(c, clustering) {
                if let k = winners.firstIndex(where: { $0.column == cell.column && $0.path == cell.path }) {
                    winners[k] = Cell.reconcile(winners[k], cell)
                } else {
                    winners.append(cell)
                }
            }
            var out: [LiveCell] = []
            for w in winners where w.isLive(now: now) && w.timestamp > deletion {
                if w.path != nil {
                    let cd = f.complexDeletions.filter { same($0.clustering, clustering) && $0.column == w.column }.map(\.ts).max() ?? .min
                    if w.timestamp <= cd { continue }
                }
                out.append(LiveCell(column: w.column, path: w.path, value: w.value, timestamp: w.timestamp, ttl: w.ttl, localExpirationTime: w.localDeletionTime))
            }
            return out.sorted { a, b in
                cmp.compareCells(Cell(column: a.column, path: a.path, timestamp: 0, value: []), Cell(column: b.column, path: b.path, timestamp: 0, value: [])) < 0
            }
        }
        var staticRow: LiveRow?
        let sc = liveCells(nil, deletion: pd).filter { columns.includes($0.column) }
        if !sc.isEmpty { staticRow = LiveRow(clustering: [], cells: sc) }
        var clusterings: [[[UInt8]]] = []
        func note(_ c: [[UInt8]]) { if !clusterings.contains(where: { cmp.compare($0, c) == 0 }) { clusterings.append(c) } }
        for (c, _) in f.cells { if let c { note(c) } }
        for m in f.markers { note(m.clustering) }
        clusterings.sort { cmp.compare($0, $1) < 0 }
        var rows: [LiveRow] = []
        for c in clusterings where slices.contains(where: { cmp.contains($0, c) }) {
            let d = rowDeletion(c)
            var marker: LivenessInfo?
            for m in f.markers where cmp.compare(m.clustering, c) == 0 {
                if let x = marker, x.supersedes(m.liveness) { continue }
                marker = m.liveness
            }
            let markerLive = marker.map { $0.isLive(now: now) && $0.timestamp > d } ?? false
            let cells = liveCells(c, deletion: d)
            if markerLive || !cells.isEmpty {
                rows.append(LiveRow(clustering: c, cells: cells.filter { columns.includes($0.column) }))
            }
        }
        if reversed { rows.reverse() }
        if rows.count > limit { rows.removeLast(rows.count - limit) }
        return LivePartition(partitionKey: key, staticRow: staticRow, rows: rows)
    }
}
