/// Role and permission statements (Cassandra's CassandraRoleManager / CassandraAuthorizer syntax).
public enum AuthStatement: Hashable, Sendable {
    /// `CREATE ROLE` or `CREATE USER` (``RoleOptions/isUser``).
    case createRole(String, ifNotExists: Bool, RoleOptions)
    case alterRole(String, ifExists: Bool, RoleOptions)
    case dropRole(String, ifExists: Bool, isUser: Bool)
    /// `GRANT role TO grantee`.
    case grantRole(String, to: String)
    case revokeRole(String, from: String)
    /// `LIST ROLES [OF r] [NORECURSIVE]`.
    case listRoles(of: String?, recursive: Bool)
    case listUsers
    /// `GRANT perm|ALL ON resource TO role`; nil permission: ALL PERMISSIONS.
    case grantPermission(Permission?, on: ResourceName, to: String)
    case revokePermission(Permission?, on: ResourceName, from: String)
    /// `LIST perm|ALL [ON resource] [OF role] [NORECURSIVE]`.
    case listPermissions(Permission?, on: ResourceName?, of: String?, recursive: Bool)
}

/// A resource as written; a table without keyspace is resolved against the current one.
public enum ResourceName: Hashable, Sendable {
    case allKeyspaces
    case keyspace(String)
    case table(QualifiedName)
    case allRoles
    case role(String)
}

/// `WITH PASSWORD = … AND LOGIN = … AND SUPERUSER = …` (or a USER statement's `WITH PASSWORD …
/// SUPERUSER|NOSUPERUSER`). nil: not given.
public struct RoleOptions: Hashable, Sendable {
    public var password: String?
    /// `HASHED PASSWORD = '$2a$…'` (a bcrypt hash made elsewhere).
    public var hashedPassword: String?
    public var login: Bool?
    public var superuser: Bool?
    /// Written as a USER statement (LOGIN defaults to true on CREATE USER).
    public var isUser = false

    public init(password: String? = nil, hashedPassword: String? = nil, login: Bool? = nil, superuser: Bool? = nil, isUser: Bool = false) {
        self.password = password
        self.hashedPassword = hashedPassword
        self.login = login
        self.superuser = superuser
        self.isUser = isUser
    }

    public var isEmpty: Bool { password == nil && hashedPassword == nil && login == nil && superuser == nil }
}
