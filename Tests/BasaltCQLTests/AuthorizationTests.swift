import BasaltCore
@testable import BasaltCQL
@testable import BasaltProtocol
import Testing

/// Roles and permissions end to end in one process: the executor over a real storage engine,
/// `system_auth` created by the setup, statements run as different roles.
@Suite struct AuthorizationTests {
    static func settings(authorization: Bool = true) -> AuthService.Settings {
        var s = AuthService.Settings()
        s.authorization = authorization
        s.bcryptLogRounds = 4
        return s
    }

    static func session(_ user: String) -> ClientSession {
        let s = ClientSession(clientAddress: "10.1.1.1")
        s.user = user
        return s
    }

    static func expectUnauthorized(_ x: SingleNodeExecutor, _ cql: String, as s: ClientSession, message: String? = nil) async {
        do {
            try await x.run(cql, as: s)
            Issue.record("allowed: \(cql)")
        } catch let e as CQLError {
            #expect(e.code == 0x2100, "\(cql): \(e)")
            if let message { #expect(e.message == message) }
        } catch { Issue.record("\(error)") }
    }

    static func token(_ user: String, _ password: String) -> [UInt8] { [0] + Array(user.utf8) + [0] + Array(password.utf8) }

    @Test func setupCreatesTheDefaultSuperuserWhoLogsIn() async throws {
        let x = try SingleNodeExecutor(auth: Self.settings())
        defer { x.close() }
        let auth = try #require(x.auth)
        await auth.startSetup()
        #expect(SystemAuthSchema.isComplete(in: x.holder.schema))
        #expect(try await auth.authenticate(token: Self.token("cassandra", "cassandra"), address: "10.1.1.1").get() == "cassandra")
        if case .success = await auth.authenticate(token: Self.token("cassandra", "wrong"), address: "10.1.1.1") { Issue.record("wrong password accepted") }
        if case .success = await auth.authenticate(token: Self.token("nobody", "x"), address: "10.1.1.1") { Issue.record("unknown role accepted") }
        #expect(auth.counters.successes.load(ordering: .relaxed) == 1 && auth.counters.failures.load(ordering: .relaxed) == 2)
        // A second setup (another node, a restart) changes nothing.
        try await auth.setUp()
        let rows = try await x.rows("SELECT role, is_superuser FROM system_auth.roles", as: Self.session("cassandra"))
        #expect(rows == [[.text("cassandra"), .boolean(true)]])
    }

    @Test func selectOnOneTableAllowsThatAndNothingElse() async throws {
        let x = try SingleNodeExecutor(auth: Self.settings())
        defer { x.close() }
        await x.auth!.startSetup()
        let admin = Self.session("cassandra")
        for cql in ["CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
                    "CREATE TABLE ks.t (k int PRIMARY KEY, v text)", "CREATE TABLE ks.u (k int PRIMARY KEY, v text)",
                    "INSERT INTO ks.t (k, v) VALUES (1, 'a')", "CREATE ROLE alice WITH PASSWORD = 'pw' AND LOGIN = true",
                    "GRANT SELECT ON TABLE ks.t TO alice"] {
            try await x.run(cql, as: admin)
        }
        let alice = Self.session("alice")
        #expect(try await x.rows("SELECT v FROM ks.t WHERE k = 1", as: alice) == [[.text("a")]])
        #expect(try await !x.rows("SELECT cluster_name FROM system.local", as: alice).isEmpty)
        await Self.expectUnauthorized(x, "SELECT * FROM ks.u", as: alice, message: "User alice has no SELECT permission on <table ks.u> or any of its parents")
        await Self.expectUnauthorized(x, "INSERT INTO ks.t (k, v) VALUES (2, 'b')", as: alice,
                                      message: "User alice has no MODIFY permission on <table ks.t> or any of its parents")
        await Self.expectUnauthorized(x, "BEGIN BATCH INSERT INTO ks.u (k) VALUES (1) APPLY BATCH", as: alice)
        await Self.expectUnauthorized(x, "TRUNCATE ks.t", as: alice)
        await Self.expectUnauthorized(x, "SELECT * FROM system_auth.roles", as: alice)
        await Self.expectUnauthorized(x, "DROP TABLE ks.t", as: alice)
        await Self.expectUnauthorized(x, "CREATE ROLE mallory", as: alice)
        await Self.expectUnauthorized(x, "GRANT SELECT ON ks.u TO alice", as: alice)

        // Prepared statements are checked when executed.
        guard case let .result(.prepared(p)) = await x.processor.process(.prepare("INSERT INTO ks.t (k, v) VALUES (?, ?)"), session: alice) else {
            Issue.record("prepare failed"); return
        }
        let exec = await x.processor.process(.execute(id: p.id, QueryParameters(values: [.int(3), .text("c")])), session: alice)
        guard case let .error(e) = exec else { Issue.record("prepared write allowed"); return }
        #expect(e.code == 0x2100)

        let listed = try await x.rows("LIST ALL PERMISSIONS OF alice", as: admin)
        #expect(listed == [[.text("alice"), .text("alice"), .text("<table ks.t>"), .text("SELECT")]])
    }

    @Test func grantedRolesPassOnPermissionsAndCreatorsOwnWhatTheyCreate() async throws {
        let x = try SingleNodeExecutor(auth: Self.settings())
        defer { x.close() }
        await x.auth!.startSetup()
        let admin = Self.session("cassandra")
        for cql in ["CREATE ROLE builders", "GRANT CREATE ON ALL KEYSPACES TO builders", "CREATE ROLE bob WITH PASSWORD = 'b' AND LOGIN = true",
                    "GRANT builders TO bob"] {
            try await x.run(cql, as: admin)
        }
        let bob = Self.session("bob")
        try await x.run("CREATE KEYSPACE mine WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", as: bob)
        try await x.run("CREATE TABLE mine.t (k int PRIMARY KEY)", as: bob)
        try await x.run("INSERT INTO mine.t (k) VALUES (1)", as: bob)
        #expect(try await x.rows("SELECT k FROM mine.t", as: bob) == [[.int(1)]])
        #expect(try await x.rows("LIST ROLES OF bob", as: bob).map { $0[0] } == [.text("bob"), .text("builders")])
        #expect(try await x.rows("LIST ROLES OF bob NORECURSIVE", as: admin).map { $0[0] } == [.text("bob"), .text("builders")])

        try await x.run("REVOKE builders FROM bob", as: admin)
        await Self.expectUnauthorized(x, "CREATE KEYSPACE other WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", as: bob)
        // Dropping the keyspace removes every grant on it and its tables.
        try await x.run("DROP KEYSPACE mine", as: bob)
        let left = try await x.rows("SELECT resource FROM system_auth.role_permissions", as: admin).compactMap { row -> String? in
            if case let .text(r)? = row[0], r.hasPrefix("data") { return r }
            return nil
        }
        #expect(left == ["data"], "of data resources only the builders' grant on all keyspaces remains: \(left)")

        do {
            try await x.run("GRANT bob TO builders", as: admin)
            try await x.run("GRANT builders TO bob", as: admin)
            Issue.record("a cycle was accepted")
        } catch let e as CQLError { #expect(e.code == 0x2200) }
    }

    @Test func roleManagementRules() async throws {
        let x = try SingleNodeExecutor(auth: Self.settings())
        defer { x.close() }
        await x.auth!.startSetup()
        let admin = Self.session("cassandra")
        try await x.run("CREATE USER carol WITH PASSWORD 'c' NOSUPERUSER", as: admin)
        try await x.run("CREATE USER IF NOT EXISTS carol WITH PASSWORD 'c'", as: admin)
        let carol = Self.session("carol")
        try await x.run("ALTER ROLE carol WITH PASSWORD = 'new'", as: carol) // own password
        #expect(try await x.auth!.authenticate(token: Self.token("carol", "new"), address: "a").get() == "carol")
        await Self.expectUnauthorized(x, "ALTER ROLE carol WITH SUPERUSER = true", as: carol)
        await Self.expectUnauthorized(x, "ALTER ROLE cassandra WITH PASSWORD = 'x'", as: carol)
        await Self.expectUnauthorized(x, "DROP ROLE cassandra", as: carol)
        do { try await x.run("DROP ROLE cassandra", as: admin); Issue.record("dropped own role") } catch let e as CQLError { #expect(e.code == 0x2200) }
        do { try await x.run("CREATE ROLE carol", as: admin); Issue.record("created twice") } catch let e as CQLError {
            #expect(e.message == "carol already exists")
        }
        #expect(try await x.rows("LIST USERS", as: admin).map { $0[0] } == [.text("carol"), .text("cassandra")])
        try await x.run("DROP USER carol", as: admin)
        try await x.run("DROP USER IF EXISTS carol", as: admin)
        if case .success = await x.auth!.authenticate(token: Self.token("carol", "new"), address: "a") { Issue.record("dropped role logged in") }
    }

    @Test func allowAllAuthorizerRefusesGrantsAndAnonymousSessionsRefuseRoleStatements() async throws {
        let x = try SingleNodeExecutor(auth: Self.settings(authorization: false))
        defer { x.close() }
        await x.auth!.startSetup()
        try await x.run("CREATE ROLE r", as: Self.session("cassandra"))
        do { try await x.run("GRANT SELECT ON ALL KEYSPACES TO r", as: Self.session("cassandra")); Issue.record("granted") } catch let e as CQLError {
            #expect(e.message == "GRANT operation is not supported by AllowAllAuthorizer")
        }
        let open = try SingleNodeExecutor()
        defer { open.close() }
        do { try await open.run("CREATE ROLE r"); Issue.record("anonymous created a role") } catch let e as CQLError { #expect(e.code == 0x2100) }
    }
}
