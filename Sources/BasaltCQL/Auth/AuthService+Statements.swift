import BasaltCore
import BasaltProtocol

extension AuthService {
    /// Runs a role or permission statement for the session's role, with Cassandra's rules: who may
    /// create, alter, drop and grant what, and its error messages.
    func execute(_ a: AuthStatement, resource: AuthResource?, session: ClientSession) async throws(CQLError) -> ResultBody {
        guard let user = session.user else { throw .unauthorized("You have to be logged in and not anonymous to perform this request") }
        let store = try store()
        let me = try await resolvedPermissions(of: user)
        let changesRoles = switch a {
        case .listRoles, .listUsers, .listPermissions: false
        default: true
        }
        defer { if changesRoles { invalidateCaches() } }
        switch a {
        case let .createRole(name, ifNotExists, options):
            try me.check(.create, on: .allRoles)
            if options.superuser == true && !me.isSuperuser { throw .unauthorized("Only superusers can create a role with superuser status") }
            if try await store.role(name) != nil {
                if ifNotExists { return .void }
                throw .invalid("\(name) already exists")
            }
            let hash = try await saltedHash(options)
            try await store.insert(RoleRecord(name: name, canLogin: options.login ?? options.isUser, isSuperuser: options.superuser ?? false,
                                              saltedHash: hash))
            if settings.authorization {
                try await store.changePermissions(user, .role(name), AuthResource.role(name).applicablePermissions, add: true)
            }
            return .void

        case let .alterRole(name, ifExists, options):
            guard let target = try await store.role(name) else {
                if ifExists { return .void }
                throw .invalid("\(name) doesn't exist")
            }
            let isSelf = name == user
            if options.superuser != nil {
                if isSelf { throw .unauthorized("You aren't allowed to alter your own superuser status") }
                if !me.isSuperuser { throw .unauthorized("Only superusers are allowed to alter superuser status") }
            }
            if !isSelf || options.login != nil {
                try me.check(.alter, on: .role(name))
                if target.isSuperuser && !me.isSuperuser { throw .unauthorized("You must be a superuser to alter a superuser role") }
            }
            let hash = try await saltedHash(options)
            try await store.update(name, canLogin: options.login, isSuperuser: options.superuser, saltedHash: hash)
            return .void

        case let .dropRole(name, ifExists, _):
            try me.check(.drop, on: .role(name))
            if name == user { throw .invalid("Cannot DROP primary role for current login") }
            guard let target = try await store.role(name) else {
                if ifExists { return .void }
                throw .invalid("\(name) doesn't exist")
            }
            if !me.isSuperuser, try await store.graph(around: name, withGrants: false).isSuperuser(name) {
                throw .unauthorized("Only superusers can drop a role with superuser status")
            }
            for member in try await store.members(of: name) { try await store.setMembership(name, grantee: member, add: false) }
            for granted in target.memberOf {
                try await store.run("DELETE FROM system_auth.role_members WHERE role = ? AND member = ?", [.text(granted), .text(name)])
            }
            try await store.delete(name)
            for g in try await store.allGrants() where g.resource == AuthResource.role(name).name {
                try await store.deleteGrant(g.role, resourceName: g.resource)
            }
            return .void

        case let .grantRole(role, grantee):
            try me.check(.authorize, on: .role(role))
            guard try await store.role(role) != nil else { throw .invalid("\(role) doesn't exist") }
            guard let g = try await store.role(grantee) else { throw .invalid("\(grantee) doesn't exist") }
            if g.memberOf.contains(role) { throw .invalid("\(grantee) is a member of \(role)") }
            if try await store.graph(around: role, withGrants: false).wouldCycle(granting: role, to: grantee) {
                throw .invalid("\(role) is a member of \(grantee)")
            }
            try await store.setMembership(role, grantee: grantee, add: true)
            return .void

        case let .revokeRole(role, grantee):
            try me.check(.authorize, on: .role(role))
            guard try await store.role(role) != nil else { throw .invalid("\(role) doesn't exist") }
            guard let g = try await store.role(grantee) else { throw .invalid("\(grantee) doesn't exist") }
            if !g.memberOf.contains(role) { throw .invalid("\(grantee) is not a member of \(role)") }
            try await store.setMembership(role, grantee: grantee, add: false)
            return .void

        case let .listRoles(of, recursive):
            let records = try await rolesToList(of: of, recursive: recursive, me: me, store: store)
            let emptyMap = (try? CQLType.map(.text, .text).encode(.map([]))) ?? [0, 0, 0, 0]
            return rows(.listRoles(of: of, recursive: recursive), records.map { r in
                [Array(r.name.utf8), [r.isSuperuser ? 1 : 0], [r.canLogin ? 1 : 0], emptyMap, Array("ALL".utf8)]
            })

        case .listUsers:
            let records = try await rolesToList(of: nil, recursive: true, me: me, store: store).filter(\.canLogin)
            return rows(.listUsers, records.map { r in [Array(r.name.utf8), [r.isSuperuser ? 1 : 0], Array("ALL".utf8)] })

        case let .grantPermission(p, _, role), let .revokePermission(p, _, role):
            let grant = if case .grantPermission = a { true } else { false }
            guard settings.authorization else {
                throw .invalid("\(grant ? "GRANT" : "REVOKE") operation is not supported by AllowAllAuthorizer")
            }
            guard let resource else { throw .invalid("No resource given") }
            let perms = try Self.permissions(p, on: resource)
            try me.check(.authorize, on: resource)
            for perm in perms.sorted() { try me.check(perm, on: resource) }
            guard try await store.role(role) != nil else { throw .invalid("Role \(role) doesn't exist") }
            try await store.changePermissions(role, resource, perms, add: grant)
            return .void

        case let .listPermissions(p, _, of, recursive):
            guard settings.authorization else { throw .invalid("LIST PERMISSIONS operation is not supported by AllowAllAuthorizer") }
            if !me.isSuperuser && (of == nil || !me.roles.contains(of!)) { try me.check(.describe, on: .allRoles) }
            let roles: [String]
            if let of {
                let graph = try await store.graph(around: of, withGrants: false)
                guard graph.roles[of] != nil else { throw .invalid("\(of) doesn't exist") }
                roles = recursive ? graph.closure(of: of) : [of]
            } else {
                roles = try await store.allRoles().map(\.name)
            }
            var out = [(String, AuthResource, Permission)]()
            for r in roles {
                for (res, perms) in try await store.grants(of: r) {
                    if let on = resource, !(recursive ? on.chain.contains(res) : res == on) { continue }
                    for perm in perms where p == nil || perm == p { out.append((r, res, perm)) }
                }
            }
            out.sort { ($0.0, $0.1.name, $0.2) < ($1.0, $1.1.name, $1.2) }
            return rows(a, out.map { [Array($0.0.utf8), Array($0.0.utf8), Array($0.1.description.utf8), Array($0.2.rawValue.utf8)] })
        }
    }

    func rows(_ a: AuthStatement, _ rows: [[[UInt8]]]) -> ResultBody {
        .rows(RowsResult(metadata: ResultMetadata(columns: Binder.authResultColumns(a)), rows: rows.map { $0.map { Optional($0) } }))
    }

    /// The roles LIST ROLES shows: all of them to a superuser or a holder of DESCRIBE on ALL ROLES,
    /// else only the session's own roles.
    func rolesToList(of: String?, recursive: Bool, me: ResolvedPermissions, store: RoleStore) async throws(CQLError) -> [RoleRecord] {
        let seesAll = me.allows(.describe, on: .allRoles)
        guard let of else {
            if seesAll { return try await store.allRoles() }
            let graph = try await store.graph(around: me.role, withGrants: false)
            return graph.closure(of: me.role).compactMap { graph.roles[$0] }.sorted { $0.name < $1.name }
        }
        if !seesAll && !me.roles.contains(of) { throw .unauthorized("You are not authorized to view roles granted to \(of)") }
        let graph = try await store.graph(around: of, withGrants: false)
        guard let r = graph.roles[of] else { throw .invalid("\(of) doesn't exist") }
        let names = recursive ? graph.closure(of: of) : [of] + r.memberOf.sorted()
        return names.compactMap { graph.roles[$0] }.sorted { $0.name < $1.name }
    }

    /// The permissions a GRANT/REVOKE names (ALL: those applicable to the resource).
    static func permissions(_ p: Permission?, on resource: AuthResource) throws(CQLError) -> Set<Permission> {
        guard let p else { return resource.applicablePermissions }
        guard resource.applicablePermissions.contains(p) else {
            let type = switch resource { case .allRoles, .role: "RoleResource"; default: "DataResource" }
            throw .invalid("Resource type \(type) does not support any of the requested permissions")
        }
        return [p]
    }

    func saltedHash(_ options: RoleOptions) async throws(CQLError) -> String? {
        if let h = options.hashedPassword {
            guard h.hasPrefix("$2"), Bcrypt.logRounds(of: h) != nil else { throw .invalid("Hashed password must be a bcrypt hash ($2a$/$2b$)") }
            return h
        }
        guard let p = options.password else { return nil }
        guard !p.isEmpty else { throw .invalid("Password must not be empty") }
        return try await hasher.hash(p, logRounds: settings.bcryptLogRounds)
    }

    /// After a schema change by `session`'s role: its creator gets every permission on a created
    /// keyspace or table; grants on a dropped one (and under it) are removed.
    func onSchemaChange(_ change: SchemaChange, session: ClientSession) async {
        guard settings.authorization, !session.isInternal else { return }
        let (created, dropped) = StatementPermissions.createdOrDropped(change)
        do {
            let store = try store()
            if let created, let user = session.user {
                try await store.changePermissions(user, created, created.applicablePermissions, add: true)
            }
            if let dropped {
                for g in try await store.allGrants() where AuthResource(name: g.resource)?.isWithin(dropped) == true {
                    try await store.deleteGrant(g.role, resourceName: g.resource)
                }
            }
            invalidateCaches()
        } catch {
            logger.warning("could not update permissions after a schema change", metadata: ["error": "\(error)"])
        }
    }
}
