import BasaltProtocol
/// One row of `system_auth.roles`.
public struct RoleRecord: Hashable, Sendable {
    public var name: String
    public var canLogin: Bool
    public var isSuperuser: Bool
    /// Roles granted to this one (`GRANT x TO name`).
    public var memberOf: Set<String>
    public var saltedHash: String?

    public init(name: String, canLogin: Bool = false, isSuperuser: Bool = false, memberOf: Set<String> = [], saltedHash: String? = nil) {
        self.name = name
        self.canLogin = canLogin
        self.isSuperuser = isSuperuser
        self.memberOf = memberOf
        self.saltedHash = saltedHash
    }
}

/// The permission model as a value: roles with their memberships and the permissions granted to
/// each directly. A role holds what is granted to it or to any role granted to it (transitively);
/// a role is a superuser when it or any role granted to it is; a superuser holds every permission.
/// A permission on a resource holds on everything under it (``AuthResource/chain``).
public struct RoleGraph: Hashable, Sendable {
    public var roles: [String: RoleRecord]
    /// Direct grants: role → resource → permissions.
    public var grants: [String: [AuthResource: Set<Permission>]]

    public init(roles: [RoleRecord] = [], grants: [String: [AuthResource: Set<Permission>]] = [:]) {
        self.roles = Dictionary(roles.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.grants = grants
    }

    /// `role` and every role granted to it, directly or not, `role` first then by name; unknown roles are skipped.
    public func closure(of role: String) -> [String] {
        guard roles[role] != nil else { return [] }
        var seen: Set<String> = [role]
        var frontier = [role]
        while let r = frontier.popLast() {
            for m in roles[r]?.memberOf ?? [] where roles[m] != nil && seen.insert(m).inserted { frontier.append(m) }
        }
        return [role] + seen.subtracting([role]).sorted()
    }

    public func isSuperuser(_ role: String) -> Bool {
        closure(of: role).contains { roles[$0]?.isSuperuser == true }
    }

    /// Everything `role` holds, merged over its closure, by resource.
    public func permissions(of role: String) -> [AuthResource: Set<Permission>] {
        var out = [AuthResource: Set<Permission>]()
        for r in closure(of: role) {
            for (resource, perms) in grants[r] ?? [:] { out[resource, default: []].formUnion(perms) }
        }
        return out
    }

    /// Whether granting `member` to `grantee` would make a cycle (`grantee` already reaches... `member` reaches `grantee`).
    public func wouldCycle(granting member: String, to grantee: String) -> Bool {
        member == grantee || closure(of: member).contains(grantee)
    }
}

/// What one role may do, resolved once (``RoleGraph/permissions(of:)``) and cached.
public struct ResolvedPermissions: Hashable, Sendable {
    public var role: String
    public var isSuperuser: Bool
    public var roles: [String]
    public var permissions: [AuthResource: Set<Permission>]

    public init(role: String, graph: RoleGraph) {
        self.role = role
        isSuperuser = graph.isSuperuser(role)
        roles = graph.closure(of: role)
        permissions = graph.permissions(of: role)
    }

    public init(role: String, isSuperuser: Bool, roles: [String], permissions: [AuthResource: Set<Permission>]) {
        self.role = role
        self.isSuperuser = isSuperuser
        self.roles = roles
        self.permissions = permissions
    }

    /// Whether `permission` holds on `resource` (on it or any of its parents), superusers always.
    public func allows(_ permission: Permission, on resource: AuthResource) -> Bool {
        isSuperuser || resource.chain.contains { permissions[$0]?.contains(permission) == true }
    }

    /// Cassandra's refusal: "User alice has no SELECT permission on <table ks.t> or any of its parents".
    public func check(_ permission: Permission, on resource: AuthResource) throws(CQLError) {
        guard allows(permission, on: resource) else {
            throw .unauthorized("User \(role) has no \(permission.rawValue) permission on \(resource.description) or any of its parents")
        }
    }
}
