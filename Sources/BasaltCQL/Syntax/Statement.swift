import BasaltCore

/// A parsed statement, before names and types are resolved (see `Binder`).
public indirect enum Statement: Hashable, Sendable {
    case use(String)
    case createKeyspace(CreateKeyspaceStatement)
    case alterKeyspace(CreateKeyspaceStatement)
    case dropKeyspace(String, ifExists: Bool)
    case createTable(CreateTableStatement)
    case alterTable(AlterTableStatement)
    case dropTable(QualifiedName, ifExists: Bool)
    case truncate(QualifiedName)
    case createIndex(CreateIndexStatement)
    case dropIndex(QualifiedName, ifExists: Bool)
    case insert(InsertStatement)
    case update(UpdateStatement)
    case delete(DeleteStatement)
    case batch(BatchStatement)
    case select(SelectStatement)
    case describe(DescribeStatement)
    /// Roles and permissions (CREATE/ALTER/DROP ROLE|USER, GRANT, REVOKE, LIST).
    case auth(AuthStatement)
}

/// A statement with what the parser learned about its bind markers.
public struct ParsedStatement: Hashable, Sendable {
    public var statement: Statement
    /// Every marker in order of appearance; `markers[i].index == i`.
    public var markers: [BindMarker]
    public var text: String

    public init(statement: Statement, markers: [BindMarker], text: String) {
        self.statement = statement
        self.markers = markers
        self.text = text
    }
}

public struct CreateKeyspaceStatement: Hashable, Sendable {
    public var name: String
    public var ifNotExists: Bool
    public var properties: Properties
}

public struct ColumnDeclaration: Hashable, Sendable {
    public var name: String
    public var type: CQLType
    public var isStatic: Bool
    /// Declared with an inline `PRIMARY KEY`.
    public var isPrimaryKey: Bool
}

public struct CreateTableStatement: Hashable, Sendable {
    public var name: QualifiedName
    public var ifNotExists: Bool
    public var columns: [ColumnDeclaration]
    /// From a `PRIMARY KEY (…)` clause: partition-key and clustering column names.
    public var partitionKey: [String]
    public var clustering: [String]
    /// `WITH CLUSTERING ORDER BY (c ASC, …)`: (column, descending).
    public var clusteringOrder: [ClusteringOrder]
    public var properties: Properties
}

public struct ClusteringOrder: Hashable, Sendable {
    public var column: String
    public var descending: Bool
}

public struct AlterTableStatement: Hashable, Sendable {
    public enum Action: Hashable, Sendable {
        case add([ColumnDeclaration], ifNotExists: Bool)
        case drop([String], ifExists: Bool)
        case with(Properties)
        case rename([(String, String)])

        public static func == (a: Action, b: Action) -> Bool {
            switch (a, b) {
            case let (.add(x, i), .add(y, j)): x == y && i == j
            case let (.drop(x, i), .drop(y, j)): x == y && i == j
            case let (.with(x), .with(y)): x == y
            case let (.rename(x), .rename(y)): x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
            default: false
            }
        }

        public func hash(into h: inout Hasher) {
            switch self {
            case let .add(c, _): h.combine(c)
            case let .drop(c, _): h.combine(c)
            case let .with(p): h.combine(p)
            case let .rename(r): for (a, b) in r { h.combine(a); h.combine(b) }
            }
        }
    }

    public var table: QualifiedName
    public var ifExists: Bool
    public var action: Action
}

public struct CreateIndexStatement: Hashable, Sendable {
    /// nil when unnamed (a name is derived: `<table>_<column>_idx`).
    public var name: String?
    public var table: QualifiedName
    public var ifNotExists: Bool
    public var isCustom: Bool
    /// The indexed column, and the collection part if given (`keys(m)`, `values(m)`, `entries(m)`, `full(l)`).
    public var column: String
    public var target: String?
    /// The `USING '…'` class, if any.
    public var using: String?
    /// `WITH OPTIONS = {…}`.
    public var options: [(String, String)]

    public static func == (a: CreateIndexStatement, b: CreateIndexStatement) -> Bool {
        a.name == b.name && a.table == b.table && a.ifNotExists == b.ifNotExists && a.isCustom == b.isCustom && a.column == b.column
            && a.target == b.target && a.using == b.using && a.options.map(\.0) == b.options.map(\.0) && a.options.map(\.1) == b.options.map(\.1)
    }

    public func hash(into h: inout Hasher) {
        h.combine(name); h.combine(table); h.combine(column); h.combine(using)
    }
}

/// `USING TTL x AND TIMESTAMP y`.
public struct UsingClause: Hashable, Sendable {
    public var ttl: Term?
    public var timestamp: Term?

    public init(ttl: Term? = nil, timestamp: Term? = nil) {
        self.ttl = ttl
        self.timestamp = timestamp
    }
}

/// A lightweight-transaction condition (`IF EXISTS`, `IF NOT EXISTS`, `IF c = v`), parsed so the
/// binder can reject it clearly.
public enum WriteCondition: Hashable, Sendable {
    case ifExists
    case ifNotExists
    case columns([Relation])
}

public struct InsertStatement: Hashable, Sendable {
    public var table: QualifiedName
    public var columns: [String]
    public var values: [Term]
    public var ifNotExists: Bool
    public var using: UsingClause
}

/// One `SET` assignment of an UPDATE.
public enum Assignment: Hashable, Sendable {
    /// `c = v`
    case set(String, Term)
    /// `c = c + v` or `c += v`
    case append(String, Term)
    /// `c = v + c`
    case prepend(String, Term)
    /// `c = c - v` or `c -= v`
    case remove(String, Term)
    /// `c[k] = v`
    case setElement(String, key: Term, value: Term)

    public var column: String {
        switch self {
        case let .set(c, _), let .append(c, _), let .prepend(c, _), let .remove(c, _), let .setElement(c, _, _): c
        }
    }
}

public struct UpdateStatement: Hashable, Sendable {
    public var table: QualifiedName
    public var using: UsingClause
    public var assignments: [Assignment]
    public var whereClause: [Relation]
    public var condition: WriteCondition?
}

/// What a DELETE removes: a whole column or one element of a collection (`m[k]`, `l[i]`).
public enum DeleteTarget: Hashable, Sendable {
    case column(String)
    case element(String, Term)
}

public struct DeleteStatement: Hashable, Sendable {
    public var targets: [DeleteTarget]
    public var table: QualifiedName
    public var using: UsingClause
    public var whereClause: [Relation]
    public var condition: WriteCondition?
}

public struct BatchStatement: Hashable, Sendable {
    public enum Kind: Hashable, Sendable { case logged, unlogged, counter }
    public var kind: Kind
    public var using: UsingClause
    /// INSERT, UPDATE and DELETE statements only.
    public var statements: [Statement]
}

/// The left side of a WHERE relation.
public enum RelationTarget: Hashable, Sendable {
    case column(String)
    /// `token(a, b)`
    case token([String])
    /// `(a, b)` for multi-column clustering relations.
    case columns([String])
    /// `m[key]`: one entry of a map (`m['k'] = v`).
    case element(String, key: Term)
}

public enum RelationOperator: String, Hashable, Sendable {
    case eq = "=", lt = "<", lte = "<=", gt = ">", gte = ">=", neq = "!="
    case `in` = "IN", contains = "CONTAINS", containsKey = "CONTAINS KEY"
    /// `v : 'text'`: Cassandra's analyzed-index match, parsed so it can be refused clearly.
    case analyzerMatches = ":"
}

public struct Relation: Hashable, Sendable {
    public var target: RelationTarget
    public var op: RelationOperator
    /// The right side; for `IN (a, b)` a `.tuple`-free list in ``inValues``.
    public var value: Term?
    /// The values of `IN (…)`; nil for `IN ?` (then ``value`` is the marker).
    public var inValues: [Term]?
}

/// A SELECT selector expression.
public indirect enum Selector: Hashable, Sendable {
    case column(String)
    /// `count(*)` or `count(1)`.
    case countRows
    /// A function such as `token(k)`, `writetime(c)`, `ttl(c)`, `similarity_cosine(v, [..])`.
    case function(String, [Selector])
    /// A constant or marker argument (`[0.1, 0.2]`, `?`).
    case term(Term)
}

public struct SelectClause: Hashable, Sendable {
    public var selector: Selector
    public var alias: String?
}

public struct SelectStatement: Hashable, Sendable {
    public enum Ordering: Hashable, Sendable {
        case columns([ClusteringOrder])
        /// `ORDER BY v ANN OF <vector>` (ascending: nearest first).
        case ann(column: String, vector: Term)
    }

    public var distinct: Bool
    public var json: Bool
    /// Empty for `*`.
    public var selection: [SelectClause]
    public var table: QualifiedName
    public var whereClause: [Relation]
    public var ordering: Ordering?
    public var perPartitionLimit: Term?
    public var limit: Term?
    public var allowFiltering: Bool
}

/// `DESCRIBE …` as cqlsh sends it to the server.
public enum DescribeStatement: Hashable, Sendable {
    case cluster
    case keyspaces
    /// nil: the current keyspace.
    case keyspace(String?, onlyKeyspace: Bool)
    case tables
    case table(QualifiedName)
    case index(QualifiedName)
    case schema(full: Bool)
    case types, functions, aggregates
    /// `DESCRIBE name` / `DESCRIBE ks.name`: a keyspace, table or index, whichever exists.
    case name(QualifiedName)
}
