import BasaltCore

/// A keyspace with everything defined in it.
public struct KeyspaceDefinition: Hashable, Sendable {
    public var params: KeyspaceSchema
    public var tables: [String: TableSchema]
    /// Indexes by name; index names are unique within a keyspace.
    public var indexes: [String: IndexSchema]

    public init(params: KeyspaceSchema, tables: [String: TableSchema] = [:], indexes: [String: IndexSchema] = [:]) {
        self.params = params
        self.tables = tables
        self.indexes = indexes
    }

    public var name: String { params.name }

    /// The indexes of one table, by name.
    public func indexes(on table: String) -> [IndexSchema] {
        indexes.values.filter { $0.table == table }.sorted { $0.name < $1.name }
    }
}

/// The whole schema a node knows: user keyspaces plus the built-in system keyspaces, as a value.
///
/// Changes go through ``applying(_:)``, which validates them with Cassandra's rules and messages.
/// ``version`` is a digest of the user-defined content (``SchemaCodec``), so nodes holding the
/// same schema report the same `schema_version` whatever order they learned it in.
public struct Schema: Hashable, Sendable {
    /// User keyspaces by name.
    public private(set) var userKeyspaces: [String: KeyspaceDefinition]

    public init(userKeyspaces: [String: KeyspaceDefinition] = [:]) {
        self.userKeyspaces = userKeyspaces
    }

    /// An empty schema: only the system keyspaces.
    public static let empty = Schema()

    /// A keyspace, system or user.
    public func keyspace(_ name: String) -> KeyspaceDefinition? {
        userKeyspaces[name] ?? SystemKeyspaces.definitions[name]
    }

    /// Every keyspace, system ones first, then user keyspaces by name.
    public var allKeyspaces: [KeyspaceDefinition] {
        SystemKeyspaces.names.compactMap { SystemKeyspaces.definitions[$0] } + userKeyspaces.keys.sorted().compactMap { userKeyspaces[$0] }
    }

    public func table(_ keyspaceName: String, _ name: String) -> TableSchema? {
        keyspace(keyspaceName)?.tables[name]
    }

    public func index(_ keyspaceName: String, _ name: String) -> IndexSchema? {
        keyspace(keyspaceName)?.indexes[name]
    }

    /// The schema version: a name-based UUID of the MD5 of the canonical encoding of the user keyspaces.
    public var version: UUIDValue {
        UUIDValue.nameBased(SchemaCodec.encode(self))
    }

    mutating func setKeyspace(_ k: KeyspaceDefinition?, named name: String) {
        userKeyspaces[name] = k
    }
}
