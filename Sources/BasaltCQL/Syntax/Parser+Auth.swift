extension CQLParser {
    /// A role name: an identifier (folded to lower case unless quoted) or a string literal.
    mutating func roleName() throws(CQLSyntaxError) -> String {
        if case let .string(s) = current.kind {
            advance()
            return s
        }
        return try identifier("role name")
    }

    mutating func stringLiteral(_ what: String) throws(CQLSyntaxError) -> String {
        guard case let .string(s) = current.kind else { throw mismatch(expecting: what) }
        advance()
        return s
    }

    mutating func booleanLiteral() throws(CQLSyntaxError) -> Bool {
        if acceptWord("true") { return true }
        if acceptWord("false") { return false }
        throw mismatch(expecting: "true or false")
    }

    /// After `CREATE ROLE` / `ALTER ROLE`: `[IF [NOT] EXISTS] name [WITH option = value [AND …]]`.
    mutating func roleStatement(create: Bool) throws(CQLSyntaxError) -> AuthStatement {
        let flag = create ? try ifNotExists() : try ifExists()
        let name = try roleName()
        var options = RoleOptions()
        if acceptWord("with") {
            repeat {
                if acceptWord("password") {
                    try expectSymbol("=")
                    options.password = try stringLiteral("a password string")
                } else if acceptWord("hashed") {
                    try expectWord("password")
                    try expectSymbol("=")
                    options.hashedPassword = try stringLiteral("a bcrypt hash string")
                } else if acceptWord("login") {
                    try expectSymbol("=")
                    options.login = try booleanLiteral()
                } else if acceptWord("superuser") {
                    try expectSymbol("=")
                    options.superuser = try booleanLiteral()
                } else if isWord("options") || isWord("access") {
                    throw invalidRequest("\(current.display.uppercased()) is not supported by Basalt's role manager")
                } else {
                    throw mismatch(expecting: "PASSWORD, HASHED PASSWORD, LOGIN or SUPERUSER")
                }
            } while acceptWord("and")
        }
        return create ? .createRole(name, ifNotExists: flag, options) : .alterRole(name, ifExists: flag, options)
    }

    /// After `CREATE USER` / `ALTER USER`: `[IF NOT EXISTS] name [WITH [HASHED] PASSWORD 'p'] [SUPERUSER|NOSUPERUSER]`.
    mutating func userStatement(create: Bool) throws(CQLSyntaxError) -> AuthStatement {
        let flag = create ? try ifNotExists() : false
        let name = try roleName()
        var options = RoleOptions(isUser: true)
        if acceptWord("with") {
            if acceptWord("hashed") {
                try expectWord("password")
                options.hashedPassword = try stringLiteral("a bcrypt hash string")
            } else {
                try expectWord("password")
                options.password = try stringLiteral("a password string")
            }
        }
        if acceptWord("superuser") { options.superuser = true } else if acceptWord("nosuperuser") { options.superuser = false }
        if create {
            options.login = true
            return .createRole(name, ifNotExists: flag, options)
        }
        return .alterRole(name, ifExists: false, options)
    }

    /// `ALL [PERMISSIONS]` (nil) or one permission `[PERMISSION]`.
    mutating func permissionOrAll() throws(CQLSyntaxError) -> Permission? {
        if acceptWord("all") {
            _ = acceptWord("permissions")
            return nil
        }
        guard case let .word(w) = current.kind, let p = Permission(rawValue: w.uppercased()) else {
            throw mismatch(expecting: "a permission (SELECT, MODIFY, CREATE, ALTER, DROP, AUTHORIZE, DESCRIBE, EXECUTE) or ALL")
        }
        advance()
        _ = acceptWord("permission")
        return p
    }

    /// `ALL KEYSPACES | KEYSPACE k | [TABLE] [k.]t | ALL ROLES | ROLE r`.
    mutating func resourceName() throws(CQLSyntaxError) -> ResourceName {
        if acceptWord("all") {
            if acceptWord("keyspaces") { return .allKeyspaces }
            if acceptWord("roles") { return .allRoles }
            if isWord("functions") || isWord("mbeans") { throw unsupported("Permissions on functions and MBeans") }
            throw mismatch(expecting: "KEYSPACES or ROLES")
        }
        if acceptWord("keyspace") { return .keyspace(try identifier("keyspace name")) }
        if acceptWord("role") { return .role(try roleName()) }
        if isWord("function") || isWord("mbean") { throw unsupported("Permissions on functions and MBeans") }
        _ = acceptWord("table") || acceptWord("columnfamily")
        return .table(try qualifiedName("table name"))
    }

    /// A GRANT or REVOKE, after its first word: of a permission (`… ON resource TO|FROM r`) or of a role (`r1 TO|FROM r2`).
    mutating func grantStatement(grant: Bool) throws(CQLSyntaxError) -> AuthStatement {
        let preposition = grant ? "to" : "from"
        let isPermission = isWord("all") || (current.kind.wordValue.map { Permission(rawValue: $0.uppercased()) != nil } ?? false)
            && (peek(1).isWord("on") || peek(1).isWord("permission"))
        if isPermission {
            let p = try permissionOrAll()
            try expectWord("on")
            let r = try resourceName()
            try expectWord(preposition)
            let role = try roleName()
            return grant ? .grantPermission(p, on: r, to: role) : .revokePermission(p, on: r, from: role)
        }
        let role = try roleName()
        try expectWord(preposition)
        let grantee = try roleName()
        return grant ? .grantRole(role, to: grantee) : .revokeRole(role, from: grantee)
    }

    /// After `LIST`: `ROLES [OF r] [NORECURSIVE]`, `USERS`, or `perm|ALL [ON resource] [OF r] [NORECURSIVE]`.
    mutating func listStatement() throws(CQLSyntaxError) -> AuthStatement {
        if acceptWord("users") { return .listUsers }
        if acceptWord("roles") {
            let of = acceptWord("of") ? try roleName() : nil
            return .listRoles(of: of, recursive: !acceptWord("norecursive"))
        }
        let p = try permissionOrAll()
        let on = acceptWord("on") ? try resourceName() : nil
        let of = acceptWord("of") ? try roleName() : nil
        return .listPermissions(p, on: on, of: of, recursive: !acceptWord("norecursive"))
    }
}

extension CQLToken.Kind {
    var wordValue: String? {
        if case let .word(w) = self { return w }
        return nil
    }
}
