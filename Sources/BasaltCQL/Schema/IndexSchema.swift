import BasaltCore
import BasaltVector

/// A storage-attached index (SAI) on one column of a table, as `system_schema.indexes` lists it.
///
/// Basalt builds one kind of index, Cassandra 5's StorageAttachedIndex, whatever the statement
/// said (`USING 'sai'`, `'StorageAttachedIndex'`, the full class name, or a plain `CREATE INDEX`).
/// The definition keeps what Cassandra stores, so `system_schema.indexes`, DESCRIBE and the
/// driver's metadata read the same as on Cassandra:
/// - ``className`` is the class exactly as written in `USING` (`'sai'` when none was given);
/// - ``userOptions`` are the `WITH OPTIONS` entries exactly as written (keys and values);
/// - ``options`` adds `class_name` and `target` (``targetText``: `v`, `keys(m)`, `values(l)`,
///   `entries(m)`, `full(f)`).
///
/// Invariant (checked by the binder when the index is created): the column exists in the table,
/// the ``target`` suits its type, and ``userOptions`` parse as ``IndexOptions`` for that type.
public struct IndexSchema: Hashable, Sendable {
    /// `system_schema.indexes.kind`; Basalt's indexes are always ``custom``.
    public enum Kind: String, Hashable, Sendable {
        case custom = "CUSTOM"
        case composites = "COMPOSITES"
        case keys = "KEYS"
    }

    /// What an index covers of its column (Cassandra's `IndexTarget.Type`).
    public enum Target: String, Hashable, Sendable, CaseIterable {
        /// The column's value: a scalar, a vector, a tuple (`target` is the column name).
        case column = ""
        /// The keys of a non-frozen map: answers `CONTAINS KEY`.
        case keys
        /// The elements of a non-frozen list or set, or the values of a non-frozen map: answers `CONTAINS`.
        case values
        /// The (key, value) entries of a non-frozen map: answers `m[key] = value`.
        case entries
        /// A frozen collection as a whole: answers `=`.
        case full
    }

    /// How vectors are compared (`similarity_function`): the vector engine's own type.
    public typealias Similarity = VectorSimilarity

    public static let saiClassName = "org.apache.cassandra.index.sai.StorageAttachedIndex"
    /// The class name stored when a statement names none (Cassandra 5 with `default_secondary_index: sai`).
    public static let defaultClassName = "sai"

    public var keyspace: String
    public var table: String
    public var name: String
    public var kind: Kind
    /// The indexed column.
    public var column: String
    public var target: Target
    /// The index class as written in `USING` (`class_name` in `system_schema.indexes`).
    public var className: String
    /// The `WITH OPTIONS` entries as written, without `class_name` and `target`.
    public var userOptions: [String: String]

    public init(keyspace: String, table: String, name: String, kind: Kind = .custom, column: String, target: Target = .column,
                className: String = IndexSchema.defaultClassName, userOptions: [String: String] = [:]) {
        self.keyspace = keyspace
        self.table = table
        self.name = name
        self.kind = kind
        self.column = column
        self.target = target
        self.className = className
        self.userOptions = userOptions
    }

    /// The `target` option: the column as CQL writes it, wrapped in `keys(…)`, `values(…)`,
    /// `entries(…)` or `full(…)` when the index covers part of a collection.
    public var targetText: String {
        let c = SchemaDescriber.identifier(column)
        return target == .column ? c : "\(target.rawValue)(\(c))"
    }

    /// Every option as `system_schema.indexes.options` holds it: the user's options plus
    /// `class_name` and `target`.
    public var options: [String: String] {
        var o = userOptions
        o["class_name"] = className
        o["target"] = targetText
        return o
    }

    /// The user options, parsed. Options were validated when the index was created; anything
    /// unreadable (a definition from elsewhere) falls back to the defaults.
    public var settings: IndexOptions { IndexOptions(reading: userOptions) }

    /// The similarity function of a vector index: `similarity_function` if set, else the
    /// `source_model`'s default (DOT_PRODUCT for a named model), else COSINE.
    public var similarity: Similarity { settings.effectiveSimilarity }

    /// Whether this index can answer `op` on its column (Cassandra 5's SAI rules): a vector index
    /// answers only ANN; `keys` answers CONTAINS KEY, `values` CONTAINS, `entries` `m[k] =`, `full` `=`;
    /// a scalar index `=`, and ranges unless its type is text, ascii, boolean, uuid or frozen.
    public func supports(_ op: IndexRestrictionOperator, columnType: CQLType) -> Bool {
        switch target {
        case .keys: return op == .containsKey
        case .values: return op == .contains
        case .entries: return op == .entryEquals
        case .full: return op == .eq
        case .column:
            if case .vector = columnType.unfrozen { return op == .ann }
            switch op {
            case .eq: return true
            case .range: return !Self.isEqualityOnly(columnType)
            case .contains, .containsKey, .entryEquals, .ann: return false
            }
        }
    }

    /// Types whose SAI index answers only equality (literal types in Cassandra's SAI).
    static func isEqualityOnly(_ type: CQLType) -> Bool {
        if type.isFrozen { return true }
        switch type {
        case .text, .ascii, .boolean, .uuid, .tuple, .list, .set, .map: return true
        default: return false
        }
    }
}

/// The operators a storage-attached index can answer (see ``IndexSchema/supports(_:columnType:)``).
public enum IndexRestrictionOperator: Hashable, Sendable {
    case eq
    /// `<`, `<=`, `>`, `>=`.
    case range
    case contains
    case containsKey
    /// `m[key] = value`.
    case entryEquals
    /// `ORDER BY v ANN OF …`.
    case ann
}
