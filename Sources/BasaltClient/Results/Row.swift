import BasaltProtocol
import BasaltCore

/// The columns of a result, shared by all its rows: names, types and a name index.
public final class ResultColumns: Sendable {
    public let specs: [ColumnSpec]
    private let indexByName: [String: Int]

    public init(_ specs: [ColumnSpec]) {
        self.specs = specs
        var index = [String: Int]()
        for (i, s) in specs.enumerated() where index[s.name] == nil { index[s.name] = i }
        indexByName = index
    }

    public var count: Int { specs.count }
    public var names: [String] { specs.map(\.name) }

    /// The position of the column called `name` (the first one, if aliases repeat it).
    public func index(of name: String) -> Int? { indexByName[name] }
}

/// One row of a result: a decoded value per column (nil is null).
public struct Row: Sendable, Hashable, CustomStringConvertible {
    public let columns: ResultColumns
    public let values: [CQLValue?]

    public init(columns: ResultColumns, values: [CQLValue?]) {
        self.columns = columns
        self.values = values
    }

    /// The value of column `i` (nil when null or out of range).
    public subscript(_ i: Int) -> CQLValue? { i >= 0 && i < values.count ? values[i] : nil }

    /// The value of the column called `name` (nil when null or no such column).
    public subscript(_ name: String) -> CQLValue? { columns.index(of: name).flatMap { self[$0] } }

    public static func == (a: Row, b: Row) -> Bool { a.columns.names == b.columns.names && a.values == b.values }
    public func hash(into h: inout Hasher) { h.combine(values) }

    public var description: String {
        zip(columns.names, values).map { "\($0): \($1?.cqlLiteral ?? "null")" }.joined(separator: ", ")
    }
}
