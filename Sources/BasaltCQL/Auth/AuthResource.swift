/// A permission as Cassandra names it, in Cassandra's order (the order LIST PERMISSIONS prints).
public enum Permission: String, CaseIterable, Hashable, Sendable, Comparable {
    case create = "CREATE", alter = "ALTER", drop = "DROP", select = "SELECT", modify = "MODIFY", authorize = "AUTHORIZE"
    case describe = "DESCRIBE", execute = "EXECUTE"

    public static func < (a: Permission, b: Permission) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// What permissions are granted on: Cassandra's data resources (`ALL KEYSPACES` ⊃ `KEYSPACE k` ⊃
/// `TABLE k.t`) and role resources (`ALL ROLES` ⊃ `ROLE r`). A permission held on a resource holds
/// on everything under it.
public enum AuthResource: Hashable, Sendable, Comparable {
    case allKeyspaces
    case keyspace(String)
    case table(String, String)
    case allRoles
    case role(String)

    /// The name stored in `system_auth.role_permissions.resource` (`data/ks/t`, `roles/r`).
    public var name: String {
        switch self {
        case .allKeyspaces: "data"
        case let .keyspace(k): "data/\(k)"
        case let .table(k, t): "data/\(k)/\(t)"
        case .allRoles: "roles"
        case let .role(r): "roles/\(r)"
        }
    }

    public init?(name: String) {
        let parts = name.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        switch (parts.first, parts.count) {
        case ("data", 1): self = .allKeyspaces
        case ("data", 2): self = .keyspace(parts[1])
        case ("data", 3): self = .table(parts[1], parts[2])
        case ("roles", 1): self = .allRoles
        case ("roles", 2): self = .role(parts[1])
        default: return nil
        }
    }

    /// As Cassandra prints it in messages and LIST PERMISSIONS (`<table ks.t>`).
    public var description: String {
        switch self {
        case .allKeyspaces: "<all keyspaces>"
        case let .keyspace(k): "<keyspace \(k)>"
        case let .table(k, t): "<table \(k).\(t)>"
        case .allRoles: "<all roles>"
        case let .role(r): "<role \(r)>"
        }
    }

    public var parent: AuthResource? {
        switch self {
        case .allKeyspaces, .allRoles: nil
        case .keyspace: .allKeyspaces
        case let .table(k, _): .keyspace(k)
        case .role: .allRoles
        }
    }

    /// The resource and its ancestors, nearest first.
    public var chain: [AuthResource] {
        var out = [self]
        while let p = out.last?.parent { out.append(p) }
        return out
    }

    /// Whether `self` is `other` or lies under it.
    public func isWithin(_ other: AuthResource) -> Bool { chain.contains(other) }

    /// The permissions that mean something on this resource (what ALL PERMISSIONS grants), as Cassandra has them.
    public var applicablePermissions: Set<Permission> {
        switch self {
        case .allKeyspaces, .keyspace: [.create, .alter, .drop, .select, .modify, .authorize]
        case .table: [.alter, .drop, .select, .modify, .authorize]
        case .allRoles: [.create, .alter, .drop, .authorize, .describe]
        case .role: [.alter, .drop, .authorize]
        }
    }

    public static func < (a: AuthResource, b: AuthResource) -> Bool { a.name < b.name }
}
