import BasaltCore

/// A live cell as CQL shows it: its value, write time and TTL.
public struct LiveCell: Hashable, Sendable, CustomStringConvertible {
    public var column: String
    public var path: [UInt8]?
    public var value: [UInt8]
    /// Write timestamp, microseconds (`WRITETIME`).
    public var timestamp: Int64
    /// The TTL it was written with (0 for none).
    public var ttl: Int32
    /// Expiry second, or `Cell.noExpiration`.
    public var localExpirationTime: Int64

    public var description: String {
        "\(column)\(path.map { "[\($0.hexString)]" } ?? "")=\(value.hexString)@\(timestamp)\(ttl > 0 ? " ttl \(ttl)" : "")"
    }
}

/// A live row: clustering and live cells (possibly none when only the marker keeps it alive).
public struct LiveRow: Hashable, Sendable, CustomStringConvertible {
    public var clustering: [[UInt8]]
    public var cells: [LiveCell]

    public var description: String {
        "(\(clustering.map { $0.hexString }.joined(separator: ":"))) " + cells.map(\.description).joined(separator: " ")
    }
}

/// The live CQL view of a partition at a given time: expired cells and markers dropped, shadowed
/// data removed, rows in the order the reader asked for.
public struct LivePartition: Hashable, Sendable, CustomStringConvertible {
    public var partitionKey: [UInt8]
    /// Live static cells; nil when there are none.
    public var staticRow: LiveRow?
    public var rows: [LiveRow]

    public var isEmpty: Bool { staticRow == nil && rows.isEmpty }

    public var description: String {
        var s = "partition \(partitionKey.hexString)"
        if let st = staticRow { s += "\n  static \(st)" }
        for r in rows { s += "\n  \(r)" }
        return s
    }
}

extension PartitionResult {
    /// The live view at `now` (seconds): rows in descending clustering order when `reversed`, at
    /// most `limit` of them.
    public func live(now: Int64, reversed: Bool = false, limit: Int = .max, _ cmp: ClusteringComparator) -> LivePartition {
        let canonical = update.normalized(cmp)
        func liveCells(_ r: Row) -> [LiveCell] {
            r.cells.compactMap { c in
                c.isLive(now: now)
                    ? LiveCell(column: c.column, path: c.path, value: c.value, timestamp: c.timestamp, ttl: c.ttl, localExpirationTime: c.localDeletionTime)
                    : nil
            }
        }
        var staticRow: LiveRow?
        if let s = canonical.staticRow {
            let cells = liveCells(s)
            if !cells.isEmpty { staticRow = LiveRow(clustering: [], cells: cells) }
        }
        var rows: [LiveRow] = []
        let ordered: [Row] = reversed ? canonical.rows.reversed() : canonical.rows
        for r in ordered where r.isLive(now: now) {
            if rows.count >= limit { break }
            rows.append(LiveRow(clustering: r.clustering, cells: liveCells(r)))
        }
        return LivePartition(partitionKey: partitionKey, staticRow: staticRow, rows: rows)
    }
}
