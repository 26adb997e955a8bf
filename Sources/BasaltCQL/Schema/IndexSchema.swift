import BasaltCore

/// A secondary index on a table, as `system_schema.indexes` lists it.
///
/// Basalt builds Storage-Attached (vector) indexes only: `kind` is ``Kind/custom`` with
/// `class_name` = ``IndexSchema/saiClassName`` and `target` = the column in ``options``.
public struct IndexSchema: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case custom = "CUSTOM"
        case composites = "COMPOSITES"
        case keys = "KEYS"
    }

    /// How vectors are compared by an ANN index (`similarity_function`).
    public enum Similarity: String, Hashable, Sendable, CaseIterable {
        case cosine = "COSINE"
        case dotProduct = "DOT_PRODUCT"
        case euclidean = "EUCLIDEAN"
    }

    public static let saiClassName = "org.apache.cassandra.index.sai.StorageAttachedIndex"

    public var keyspace: String
    public var table: String
    public var name: String
    public var kind: Kind
    /// The indexed column.
    public var column: String
    /// Every option, including `class_name` and `target`.
    public var options: [String: String]

    public init(keyspace: String, table: String, name: String, kind: Kind = .custom, column: String, options: [String: String]) {
        self.keyspace = keyspace
        self.table = table
        self.name = name
        self.kind = kind
        self.column = column
        self.options = options
    }

    /// The similarity function for a vector index (COSINE unless set).
    public var similarity: Similarity {
        options["similarity_function"].flatMap { Similarity(rawValue: $0.uppercased()) } ?? .cosine
    }
}
