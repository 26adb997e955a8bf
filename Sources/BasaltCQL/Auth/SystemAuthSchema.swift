import BasaltCore

/// The `system_auth` keyspace as Cassandra lays it out (`roles`, `role_members`,
/// `role_permissions`, with Cassandra's column names). Unlike `system` it is an ordinary
/// replicated keyspace in the distributed schema — SimpleStrategy, replication factor 1 by
/// default as in Cassandra, alterable with ALTER KEYSPACE — created by the first node that
/// starts with authentication on. Its tables have fixed ids (name-based, as Cassandra's system
/// tables do), so two nodes creating them at once create the same tables and the schema log
/// keeps one of each.
public enum SystemAuthSchema {
    public static let keyspace = "system_auth"

    public static func keyspaceSchema(replicationFactor: Int = 1) -> KeyspaceSchema {
        KeyspaceSchema(name: keyspace, replication: .simple(replicationFactor: replicationFactor), durableWrites: true)
    }

    public static let tables: [TableSchema] = [
        table("roles", partitionKey: [("role", .text)], regular: [
            ("can_login", .boolean), ("is_superuser", .boolean), ("member_of", .set(.text)), ("salted_hash", .text),
        ], comment: "role definitions"),
        table("role_members", partitionKey: [("role", .text)], clustering: [("member", .text)], regular: [],
              comment: "role memberships lookup table"),
        table("role_permissions", partitionKey: [("role", .text)], clustering: [("resource", .text)], regular: [
            ("permissions", .set(.text)),
        ], comment: "permissions granted to db roles"),
    ]

    static func table(_ name: String, partitionKey: [(String, CQLType)], clustering: [(String, CQLType)] = [],
                      regular: [(String, CQLType)], comment: String) -> TableSchema {
        var t = SystemKeyspaces.table(keyspace, name, partitionKey: partitionKey, clustering: clustering, regular: regular, comment: comment)
        t.params.gcGraceSeconds = 7_776_000 // 90 days, as Cassandra's system_auth tables
        return t
    }

    /// The schema changes that create the keyspace and its tables where they are missing.
    public static func creation(replicationFactor: Int = 1) -> [SchemaChange] {
        [.createKeyspace(keyspaceSchema(replicationFactor: replicationFactor), ifNotExists: true)]
            + tables.map { .createTable($0, ifNotExists: true) }
    }

    /// Whether the schema has the keyspace and all its tables.
    public static func isComplete(in schema: Schema) -> Bool {
        tables.allSatisfy { schema.table(keyspace, $0.name) != nil }
    }
}
