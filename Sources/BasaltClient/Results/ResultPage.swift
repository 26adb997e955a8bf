import BasaltProtocol
import BasaltCore

/// What one request returned: for a SELECT one page of rows and the state to fetch the next;
/// otherwise the kind of result (void, schema change, keyspace set). Values are decoded with the
/// result metadata's column types.
public struct ResultPage: Sendable {
    public enum Kind: Sendable, Hashable {
        case void
        case rows
        case setKeyspace(String)
        case schemaChange(SchemaChangeDescription)
        case prepared
    }

    public let kind: Kind
    public let columns: ResultColumns
    public let rows: [Row]
    /// Present when more rows follow: pass it back (``StatementOptions/pagingState``) with the
    /// same statement and values.
    public let pagingState: [UInt8]?
    public let warnings: [String]
    /// The node that coordinated the request (`host:port`).
    public let coordinator: String

    public var hasMorePages: Bool { pagingState != nil }

    /// Decodes a RESULT body; a value that does not decode as its column's type is a
    /// ``ClientError/protocolViolation(node:reason:)``.
    init(_ body: ResultBody, warnings: [String], coordinator: String, knownColumns: [ColumnSpec] = []) throws(ClientError) {
        self.warnings = warnings
        self.coordinator = coordinator
        switch body {
        case .void:
            (kind, columns, rows, pagingState) = (.void, ResultColumns([]), [], nil)
        case let .setKeyspace(ks):
            (kind, columns, rows, pagingState) = (.setKeyspace(ks), ResultColumns([]), [], nil)
        case let .schemaChange(change):
            (kind, columns, rows, pagingState) = (.schemaChange(change), ResultColumns([]), [], nil)
        case .prepared:
            (kind, columns, rows, pagingState) = (.prepared, ResultColumns([]), [], nil)
        case let .rows(result):
            let specs = result.metadata.noMetadata ? knownColumns : result.metadata.columns
            let columns = ResultColumns(specs)
            var rows = [Row]()
            rows.reserveCapacity(result.rows.count)
            for raw in result.rows {
                guard raw.count == specs.count else {
                    throw .protocolViolation(node: coordinator, reason: "row of \(raw.count) values for \(specs.count) columns")
                }
                var values = [CQLValue?]()
                values.reserveCapacity(raw.count)
                for (i, cell) in raw.enumerated() {
                    guard let cell else {
                        values.append(nil)
                        continue
                    }
                    do {
                        values.append(try specs[i].type.decode(cell))
                    } catch {
                        throw .protocolViolation(node: coordinator, reason: "column \(specs[i].name): \(error)")
                    }
                }
                rows.append(Row(columns: columns, values: values))
            }
            (kind, self.columns, self.rows, pagingState) = (.rows, columns, rows, result.metadata.pagingState)
        }
    }
}
