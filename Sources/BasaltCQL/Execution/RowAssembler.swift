import BasaltCore
import BasaltProtocol
import BasaltStorage

/// Turns live rows into result rows for a selection: key components, clustering values, cells
/// (non-frozen collections assembled from their element cells), `writetime`, `ttl`, `token` and
/// similarity scores; and evaluates ALLOW FILTERING restrictions on the same values.
struct RowAssembler {
    let table: TableSchema
    let selection: [SelectedColumn<[Float]>]
    let nowSeconds: Int64

    /// One candidate result row before selection: its partition, clustering row (nil for a
    /// partition that only has static cells) and static cells.
    struct Source {
        var partitionKey: [UInt8]
        var keyComponents: [[UInt8]]
        var token: Token
        var row: LiveRow?
        var staticRow: LiveRow?
    }

    /// The value of `column` in the source: serialized, nil for null.
    func value(_ c: ColumnDefinition, _ s: Source) -> [UInt8]? {
        switch c.kind {
        case .partitionKey: return c.position < s.keyComponents.count ? s.keyComponents[c.position] : nil
        case .clustering:
            guard let row = s.row, c.position < row.clustering.count else { return nil }
            return row.clustering[c.position]
        case .static: return cellValue(c, s.staticRow)
        case .regular: return cellValue(c, s.row)
        }
    }

    func cellValue(_ c: ColumnDefinition, _ row: LiveRow?) -> [UInt8]? {
        guard let row else { return nil }
        if c.type.isMultiCell {
            let cells = row.cells.filter { $0.column == c.name }
            return cells.isEmpty ? nil : CollectionCells.assemble(c.type, cells: cells)
        }
        return row.cells.first { $0.column == c.name && $0.path == nil }?.value
    }

    func cell(_ c: ColumnDefinition, _ s: Source) -> LiveCell? {
        let row = c.kind == .static ? s.staticRow : s.row
        return row?.cells.first { $0.column == c.name }
    }

    /// Cassandra's error when `similarity_cosine` meets an all-zero vector (query or stored).
    static let zeroVectorError = CQLError.invalid("Function system.similarity_cosine doesn't support all-zero vectors.")

    func select(_ s: Source) throws(CQLError) -> [[UInt8]?] {
        var out = [[UInt8]?]()
        out.reserveCapacity(selection.count)
        for sel in selection { out.append(try value(of: sel, s)) }
        return out
    }

    func value(of sel: SelectedColumn<[Float]>, _ s: Source) throws(CQLError) -> [UInt8]? {
            switch sel.source {
            case let .column(c): return value(c, s)
            case let .writetime(c):
                guard let cell = cell(c, s) else { return nil }
                return try? CQLType.bigint.encode(.bigint(cell.timestamp))
            case let .ttl(c):
                guard let cell = cell(c, s), cell.ttl > 0 else { return nil }
                return try? CQLType.int.encode(.int(Int32(clamping: max(0, cell.localExpirationTime - nowSeconds))))
            case .token: return try? CQLType.bigint.encode(.bigint(s.token.value))
            case .countRows: return nil
            case let .similarity(f, c, query):
                guard let v = value(c, s), case let .vector(fs)? = try? c.type.decode(v), fs.count == query.count else { return nil }
                if f == .cosine && fs.allSatisfy({ $0 == 0 }) { throw Self.zeroVectorError }
                return try? CQLType.float.encode(.float(f.score(fs, query)))
            }
    }

    /// Whether the source passes every filter (ALLOW FILTERING).
    func passes(_ filters: [ColumnFilter], _ s: Source) -> Bool {
        for f in filters {
            let v = value(f.column, s)
            if !Self.matches(f, v) { return false }
        }
        return true
    }

    static func matches(_ f: ColumnFilter, _ value: [UInt8]?) -> Bool {
        guard let value else { return false }
        let type = f.column.type
        if let key = f.mapKey {
            guard case let .map(kt, vt) = type.unfrozen, let wanted = f.values.first,
                  let items = try? CollectionCells.elements(value, isMap: true) else { return false }
            return stride(from: 0, to: items.count - 1, by: 2).contains { kt.compare(items[$0], key) == 0 && vt.compare(items[$0 + 1], wanted) == 0 }
        }
        switch f.op {
        case .analyzerMatches: return false
        case .eq: return f.values.first.map { type.compare(value, $0) == 0 } ?? false
        case .neq: return f.values.first.map { type.compare(value, $0) != 0 } ?? false
        case .lt: return f.values.first.map { type.compare(value, $0) < 0 } ?? false
        case .lte: return f.values.first.map { type.compare(value, $0) <= 0 } ?? false
        case .gt: return f.values.first.map { type.compare(value, $0) > 0 } ?? false
        case .gte: return f.values.first.map { type.compare(value, $0) >= 0 } ?? false
        case .in: return f.values.contains { type.compare(value, $0) == 0 }
        case .contains, .containsKey:
            guard let needle = f.values.first else { return false }
            let isMap: Bool
            let elementType: CQLType
            switch type.unfrozen {
            case let .list(e), let .set(e): isMap = false; elementType = e
            case let .map(k, v): isMap = true; elementType = f.op == .containsKey ? k : v
            default: return false
            }
            guard let items = try? CollectionCells.elements(value, isMap: isMap) else { return false }
            let candidates: [[UInt8]]
            if isMap {
                let offset = f.op == .containsKey ? 0 : 1
                candidates = stride(from: offset, to: items.count, by: 2).map { items[$0] }
            } else {
                candidates = items
            }
            return candidates.contains { elementType.compare($0, needle) == 0 }
        }
    }
}
