import BasaltCore
import BasaltIndex

extension Schema {
    /// The term (non-vector) indexes of every user table, as the storage-attached index registry
    /// needs them (every user table is listed, with no index when it has none, so dropped
    /// indexes go).
    public var termIndexDefinitions: [UUIDValue: [TermIndexDefinition]] {
        var out: [UUIDValue: [TermIndexDefinition]] = [:]
        for k in userKeyspaces.values {
            for t in k.tables.values {
                out[t.id] = k.indexes(on: t.name).compactMap { index in
                    guard let column = t.column(named: index.column) else { return nil }
                    return TermIndexDefinition(index, column: column, table: t)
                }
            }
        }
        return out
    }
}

extension TermIndexDefinition {
    /// The term index an index definition describes; nil for a vector index.
    public init?(_ index: IndexSchema, column: ColumnDefinition, table: TableSchema) {
        if index.target == .column, case .vector = column.type.unfrozen { return nil }
        let target: Target = switch index.target {
        case .column: .value
        case .keys: .keys
        case .values: .values
        case .entries: .entries
        case .full: .full
        }
        let o = index.settings
        self.init(name: index.name, column: column, target: target,
                  analysis: TermAnalysis(caseSensitive: o.caseSensitive, normalize: o.normalize, ascii: o.ascii),
                  partitionKeyCount: table.partitionKey.count)
    }
}
