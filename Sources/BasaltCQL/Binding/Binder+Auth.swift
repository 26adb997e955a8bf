import BasaltCore
import BasaltProtocol

extension Binder {
    /// A role or permission statement: its resource resolved (a table without keyspace against the
    /// current one; data resources must exist, as Cassandra checks) and its result columns.
    func bindAuth(_ a: AuthStatement) throws(CQLError) -> BoundStatement {
        var resource: AuthResource?
        switch a {
        case let .grantPermission(_, r, _), let .revokePermission(_, r, _): resource = try authResource(r)
        case let .listPermissions(_, r?, _, _): resource = try authResource(r)
        default: break
        }
        return BoundStatement(kind: .auth(a, resource: resource), variables: [], partitionKeyIndexes: [],
                              resultColumns: Self.authResultColumns(a), keyspace: nil)
    }

    func authResource(_ r: ResourceName) throws(CQLError) -> AuthResource {
        switch r {
        case .allKeyspaces: return .allKeyspaces
        case .allRoles: return .allRoles
        case let .role(name): return .role(name)
        case let .keyspace(k):
            guard schema.keyspace(k) != nil else { throw .invalid("Resource <keyspace \(k)> doesn't exist") }
            return .keyspace(k)
        case let .table(q):
            let ks = try keyspaceName(q)
            guard schema.table(ks, q.name) != nil else { throw .invalid("Resource <table \(ks).\(q.name)> doesn't exist") }
            return .table(ks, q.name)
        }
    }

    /// Cassandra's result columns for LIST ROLES, LIST USERS and LIST PERMISSIONS.
    static func authResultColumns(_ a: AuthStatement) -> [ColumnSpec] {
        func col(_ table: String, _ name: String, _ type: CQLType = .text) -> ColumnSpec {
            ColumnSpec(keyspace: "system_auth", table: table, name: name, type: type)
        }
        switch a {
        case .listRoles:
            return [col("roles", "role"), col("roles", "super", .boolean), col("roles", "login", .boolean),
                    col("roles", "options", .map(.text, .text)), col("roles", "datacenters")]
        case .listUsers:
            return [col("users", "name"), col("users", "super", .boolean), col("users", "datacenters")]
        case .listPermissions:
            return [col("permissions", "role"), col("permissions", "username"), col("permissions", "resource"), col("permissions", "permission")]
        default:
            return []
        }
    }
}
