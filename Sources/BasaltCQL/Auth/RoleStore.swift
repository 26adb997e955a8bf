import BasaltCore
import BasaltProtocol

/// Reads and writes `system_auth` with CQL statements run internally (no authorization) through
/// the node's ``QueryProcessor``, so role data is replicated and read with consistency levels like
/// any table's. As Cassandra does, the default superuser's row is read and written at QUORUM, other
/// roles at ONE.
struct RoleStore: Sendable {
    let processor: QueryProcessor
    let defaultSuperuser: String

    func consistency(for role: String) -> ConsistencyLevel { role == defaultSuperuser ? .quorum : .one }

    /// Runs one statement; rows of a SELECT, else empty.
    @discardableResult
    func run(_ cql: String, _ values: [CQLValue?] = [], consistency: ConsistencyLevel = .one) async throws(CQLError) -> [[[UInt8]?]] {
        var encoded = [ProtocolValue]()
        for v in values {
            guard let v else { encoded.append(.null); continue }
            let type: CQLType = switch v {
            case .boolean: .boolean
            case .set: .set(.text)
            case .bigint: .bigint
            default: .text
            }
            do { encoded.append(.bytes(try type.encode(v))) } catch { throw .serverError("encoding \(v): \(error)") }
        }
        let response = await processor.process(.query(cql, QueryParameters(consistency: consistency, values: encoded)), session: .internal())
        switch response {
        case let .result(.rows(r)): return r.rows
        case .result: return []
        case let .error(e): throw e
        default: throw .serverError("unexpected answer to an internal statement")
        }
    }

    static func text(_ b: [UInt8]?) -> String? { b.map { String(decoding: $0, as: UTF8.self) } }
    static func bool(_ b: [UInt8]?) -> Bool { b?.first.map { $0 != 0 } ?? false }
    static func textSet(_ b: [UInt8]?) -> Set<String> {
        guard let b, case let .set(items)? = try? CQLType.set(.text).decode(b) else { return [] }
        return Set(items.compactMap { if case let .text(s) = $0 { s } else { nil } })
    }

    static let roleColumns = "role, can_login, is_superuser, member_of, salted_hash"

    static func record(_ row: [[UInt8]?]) -> RoleRecord? {
        guard let name = text(row[0]) else { return nil }
        return RoleRecord(name: name, canLogin: bool(row[1]), isSuperuser: bool(row[2]), memberOf: textSet(row[3]), saltedHash: text(row[4]))
    }

    func role(_ name: String) async throws(CQLError) -> RoleRecord? {
        try await run("SELECT \(Self.roleColumns) FROM system_auth.roles WHERE role = ?", [.text(name)], consistency: consistency(for: name))
            .first.flatMap(Self.record)
    }

    func allRoles() async throws(CQLError) -> [RoleRecord] {
        try await run("SELECT \(Self.roleColumns) FROM system_auth.roles", consistency: .quorum).compactMap(Self.record)
            .sorted { $0.name < $1.name }
    }

    /// Whether any role exists (checked at ONE, then QUORUM, as Cassandra does before creating the default superuser).
    func anyRoleExists() async throws(CQLError) -> Bool {
        for level in [ConsistencyLevel.one, .quorum] {
            if !(try await run("SELECT role FROM system_auth.roles LIMIT 1", consistency: level)).isEmpty { return true }
        }
        return false
    }

    /// Writes a role's row; `timestamp` 0 for the default superuser, so that every node creating it
    /// writes the same version and a later change always wins.
    func insert(_ r: RoleRecord, timestamp: Int64? = nil) async throws(CQLError) {
        let using = timestamp.map { " USING TIMESTAMP \($0)" } ?? ""
        try await run("INSERT INTO system_auth.roles (role, can_login, is_superuser, member_of, salted_hash) VALUES (?, ?, ?, ?, ?)\(using)",
                      [.text(r.name), .boolean(r.canLogin), .boolean(r.isSuperuser), r.memberOf.isEmpty ? nil : .set(r.memberOf.sorted().map { .text($0) }),
                       r.saltedHash.map { .text($0) }], consistency: consistency(for: r.name))
    }

    func update(_ role: String, canLogin: Bool?, isSuperuser: Bool?, saltedHash: String?) async throws(CQLError) {
        var sets = [String]()
        var values = [CQLValue?]()
        if let canLogin { sets.append("can_login = ?"); values.append(.boolean(canLogin)) }
        if let isSuperuser { sets.append("is_superuser = ?"); values.append(.boolean(isSuperuser)) }
        if let saltedHash { sets.append("salted_hash = ?"); values.append(.text(saltedHash)) }
        guard !sets.isEmpty else { return }
        try await run("UPDATE system_auth.roles SET \(sets.joined(separator: ", ")) WHERE role = ?", values + [.text(role)],
                      consistency: consistency(for: role))
    }

    func delete(_ role: String) async throws(CQLError) {
        try await run("DELETE FROM system_auth.roles WHERE role = ?", [.text(role)], consistency: consistency(for: role))
        try await run("DELETE FROM system_auth.role_permissions WHERE role = ?", [.text(role)])
        try await run("DELETE FROM system_auth.role_members WHERE role = ?", [.text(role)])
    }

    /// `GRANT role TO grantee` (`add`) or `REVOKE` it: the grantee's `member_of` and the `role_members` lookup row.
    func setMembership(_ role: String, grantee: String, add: Bool) async throws(CQLError) {
        let op = add ? "+" : "-"
        try await run("UPDATE system_auth.roles SET member_of = member_of \(op) ? WHERE role = ?", [.set([.text(role)]), .text(grantee)],
                      consistency: consistency(for: grantee))
        if add {
            try await run("INSERT INTO system_auth.role_members (role, member) VALUES (?, ?)", [.text(role), .text(grantee)])
        } else {
            try await run("DELETE FROM system_auth.role_members WHERE role = ? AND member = ?", [.text(role), .text(grantee)])
        }
    }

    /// Roles `role` is granted to (from `role_members`).
    func members(of role: String) async throws(CQLError) -> [String] {
        try await run("SELECT member FROM system_auth.role_members WHERE role = ?", [.text(role)]).compactMap { Self.text($0[0]) }
    }

    /// The permissions granted to `role` directly, by resource.
    func grants(of role: String) async throws(CQLError) -> [AuthResource: Set<Permission>] {
        var out = [AuthResource: Set<Permission>]()
        for row in try await run("SELECT resource, permissions FROM system_auth.role_permissions WHERE role = ?", [.text(role)]) {
            guard let name = Self.text(row[0]), let r = AuthResource(name: name) else { continue }
            let perms = Set(Self.textSet(row[1]).compactMap(Permission.init(rawValue:)))
            if !perms.isEmpty { out[r] = perms }
        }
        return out
    }

    /// Every (role, resource) row of `role_permissions`.
    func allGrants() async throws(CQLError) -> [(role: String, resource: String)] {
        try await run("SELECT role, resource FROM system_auth.role_permissions").compactMap { row in
            guard let role = Self.text(row[0]), let resource = Self.text(row[1]) else { return nil }
            return (role, resource)
        }
    }

    func changePermissions(_ role: String, _ resource: AuthResource, _ perms: Set<Permission>, add: Bool) async throws(CQLError) {
        let op = add ? "+" : "-"
        try await run("UPDATE system_auth.role_permissions SET permissions = permissions \(op) ? WHERE role = ? AND resource = ?",
                      [.set(perms.sorted().map { .text($0.rawValue) }), .text(role), .text(resource.name)])
    }

    func deleteGrant(_ role: String, resourceName: String) async throws(CQLError) {
        try await run("DELETE FROM system_auth.role_permissions WHERE role = ? AND resource = ?", [.text(role), .text(resourceName)])
    }

    /// The role graph around `role`: it and every role granted to it, with their direct grants.
    func graph(around role: String, withGrants: Bool) async throws(CQLError) -> RoleGraph {
        var records = [String: RoleRecord]()
        var frontier = [role]
        while let name = frontier.popLast() {
            guard records[name] == nil, let r = try await self.role(name) else { continue }
            records[name] = r
            frontier.append(contentsOf: r.memberOf.filter { records[$0] == nil })
        }
        var grants = [String: [AuthResource: Set<Permission>]]()
        if withGrants { for name in records.keys { grants[name] = try await self.grants(of: name) } }
        return RoleGraph(roles: Array(records.values), grants: grants)
    }
}
