import BasaltCore
import BasaltProtocol

/// Which permission on which resource each statement needs, as Cassandra's statements ask for it:
/// SELECT to read a table, MODIFY to write or truncate it, CREATE on the keyspace (or on all
/// keyspaces) to create a table (a keyspace), ALTER on a table to alter it or index it, DROP to drop.
/// `system` and `system_schema` are readable by every role (drivers read them on connect);
/// `system_auth` needs SELECT like any keyspace.
public enum StatementPermissions {
    public static func required(_ kind: BoundStatement.Kind, schema: Schema) -> [(Permission, AuthResource)] {
        switch kind {
        case .use, .describe, .auth: return []
        case let .truncate(t): return [(.modify, .table(t.keyspace, t.name))]
        case let .writes(plans, _):
            var seen = Set<AuthResource>()
            return plans.compactMap { p in
                let r = AuthResource.table(p.table.keyspace, p.table.name)
                return seen.insert(r).inserted ? (.modify, r) : nil
            }
        case let .select(plan):
            if SystemKeyspaces.names.contains(plan.table.keyspace) { return [] }
            return [(.select, .table(plan.table.keyspace, plan.table.name))]
        case let .schemaChange(change):
            return [schemaChangePermission(change, schema: schema)]
        }
    }

    static func schemaChangePermission(_ change: SchemaChange, schema: Schema) -> (Permission, AuthResource) {
        switch change {
        case .createKeyspace: (.create, .allKeyspaces)
        case let .alterKeyspace(k): (.alter, .keyspace(k.name))
        case let .dropKeyspace(k, _): (.drop, .keyspace(k))
        case let .createTable(t, _): (.create, .keyspace(t.keyspace))
        case let .alterTable(k, t, _, _): (.alter, .table(k, t))
        case let .dropTable(k, t, _): (.drop, .table(k, t))
        case let .createIndex(i, _): (.alter, .table(i.keyspace, i.table))
        case let .dropIndex(k, name, _): schema.index(k, name).map { (.alter, .table(k, $0.table)) } ?? (.alter, .keyspace(k))
        }
    }

    /// `system_auth` may have its replication altered, nothing else about its schema changed
    /// (Cassandra: "Cannot DROP <keyspace system_auth>"); refused whatever the authorizer.
    public static func checkProtectedSchema(_ change: SchemaChange) throws(CQLError) {
        let ks = SystemAuthSchema.keyspace
        switch change {
        case .alterKeyspace: return
        case let .dropKeyspace(k, _) where k == ks: throw .unauthorized("Cannot DROP <keyspace \(ks)>")
        case let .createTable(t, _) where t.keyspace == ks: throw .unauthorized("Cannot CREATE <keyspace \(ks)>")
        case let .alterTable(k, t, _, _) where k == ks: throw .unauthorized("Cannot ALTER <table \(k).\(t)>")
        case let .dropTable(k, t, _) where k == ks: throw .unauthorized("Cannot DROP <table \(k).\(t)>")
        case let .createIndex(i, _) where i.keyspace == ks: throw .unauthorized("Cannot ALTER <table \(ks).\(i.table)>")
        case let .dropIndex(k, _, _) where k == ks: throw .unauthorized("Cannot ALTER <keyspace \(ks)>")
        default: return
        }
    }

    /// The resource a schema change creates (its creator is granted everything on it) or drops
    /// (every grant on it and under it is removed).
    public static func createdOrDropped(_ change: SchemaChange) -> (created: AuthResource?, dropped: AuthResource?) {
        switch change {
        case let .createKeyspace(k, _): (.keyspace(k.name), nil)
        case let .createTable(t, _): (.table(t.keyspace, t.name), nil)
        case let .dropKeyspace(k, _): (nil, .keyspace(k))
        case let .dropTable(k, t, _): (nil, .table(k, t))
        default: (nil, nil)
        }
    }
}
