import BasaltCore
@testable import BasaltCQL
@testable import BasaltProtocol
import Testing

@Suite struct RoleStatementParsingTests {
    static func auth(_ text: String) throws -> AuthStatement {
        guard case let .auth(a) = try CQLParser.parse(text).statement else { throw CQLError.invalid("not an auth statement: \(text)") }
        return a
    }

    @Test func createAlterDropRole() throws {
        #expect(try Self.auth("CREATE ROLE IF NOT EXISTS Alice WITH PASSWORD = 'pw' AND LOGIN = true AND SUPERUSER = false")
            == .createRole("alice", ifNotExists: true, RoleOptions(password: "pw", login: true, superuser: false)))
        #expect(try Self.auth("CREATE ROLE \"Bob\"") == .createRole("Bob", ifNotExists: false, RoleOptions()))
        #expect(try Self.auth("CREATE ROLE 'carol' WITH HASHED PASSWORD = '$2b$04$x'")
            == .createRole("carol", ifNotExists: false, RoleOptions(hashedPassword: "$2b$04$x")))
        #expect(try Self.auth("ALTER ROLE alice WITH PASSWORD = 'new' AND SUPERUSER = true")
            == .alterRole("alice", ifExists: false, RoleOptions(password: "new", superuser: true)))
        #expect(try Self.auth("DROP ROLE IF EXISTS alice;") == .dropRole("alice", ifExists: true, isUser: false))
    }

    @Test func userAliases() throws {
        #expect(try Self.auth("CREATE USER IF NOT EXISTS dave WITH PASSWORD 'pw' SUPERUSER")
            == .createRole("dave", ifNotExists: true, RoleOptions(password: "pw", login: true, superuser: true, isUser: true)))
        #expect(try Self.auth("CREATE USER erin WITH PASSWORD 'pw' NOSUPERUSER")
            == .createRole("erin", ifNotExists: false, RoleOptions(password: "pw", login: true, superuser: false, isUser: true)))
        #expect(try Self.auth("ALTER USER erin WITH PASSWORD 'x'") == .alterRole("erin", ifExists: false, RoleOptions(password: "x", isUser: true)))
        #expect(try Self.auth("DROP USER IF EXISTS erin") == .dropRole("erin", ifExists: true, isUser: true))
        #expect(try Self.auth("LIST USERS") == .listUsers)
    }

    @Test func grantsAndLists() throws {
        #expect(try Self.auth("GRANT reader TO alice") == .grantRole("reader", to: "alice"))
        #expect(try Self.auth("REVOKE reader FROM alice") == .revokeRole("reader", from: "alice"))
        #expect(try Self.auth("GRANT SELECT ON TABLE ks.t TO reader") == .grantPermission(.select, on: .table(QualifiedName(keyspace: "ks", name: "t")), to: "reader"))
        #expect(try Self.auth("GRANT MODIFY PERMISSION ON t TO w") == .grantPermission(.modify, on: .table(QualifiedName(name: "t")), to: "w"))
        #expect(try Self.auth("GRANT ALL PERMISSIONS ON ALL KEYSPACES TO admin") == .grantPermission(nil, on: .allKeyspaces, to: "admin"))
        #expect(try Self.auth("REVOKE ALL ON KEYSPACE ks FROM admin") == .revokePermission(nil, on: .keyspace("ks"), from: "admin"))
        #expect(try Self.auth("GRANT AUTHORIZE ON ROLE alice TO bob") == .grantPermission(.authorize, on: .role("alice"), to: "bob"))
        #expect(try Self.auth("GRANT DESCRIBE ON ALL ROLES TO bob") == .grantPermission(.describe, on: .allRoles, to: "bob"))
        #expect(try Self.auth("LIST ROLES") == .listRoles(of: nil, recursive: true))
        #expect(try Self.auth("LIST ROLES OF alice NORECURSIVE") == .listRoles(of: "alice", recursive: false))
        #expect(try Self.auth("LIST ALL PERMISSIONS") == .listPermissions(nil, on: nil, of: nil, recursive: true))
        #expect(try Self.auth("LIST SELECT ON ks.t OF alice NORECURSIVE")
            == .listPermissions(.select, on: .table(QualifiedName(keyspace: "ks", name: "t")), of: "alice", recursive: false))
    }

    @Test(arguments: ["GRANT SELECT ks.t TO r", "CREATE ROLE r WITH LOGIN = maybe", "LIST ROLES OF", "GRANT FLY ON ALL KEYSPACES TO r"])
    func malformedStatementsAreSyntaxErrors(text: String) {
        #expect(throws: CQLSyntaxError.self) { try CQLParser.parse(text) }
    }
}

@Suite struct PermissionModelTests {
    static let graph = RoleGraph(
        roles: [
            RoleRecord(name: "alice", canLogin: true, memberOf: ["reader"]),
            RoleRecord(name: "reader", memberOf: ["base"]),
            RoleRecord(name: "base"),
            RoleRecord(name: "ops", memberOf: ["root"]),
            RoleRecord(name: "root", isSuperuser: true),
            RoleRecord(name: "loner"),
        ],
        grants: [
            "reader": [.table("ks", "t"): [.select]],
            "base": [.keyspace("other"): [.modify]],
            "loner": [.allKeyspaces: [.select]],
        ])

    @Test func permissionsAreInheritedThroughGrantedRoles() {
        let alice = ResolvedPermissions(role: "alice", graph: Self.graph)
        #expect(alice.roles == ["alice", "base", "reader"])
        #expect(!alice.isSuperuser)
        #expect(alice.allows(.select, on: .table("ks", "t")))
        #expect(!alice.allows(.select, on: .table("ks", "u")))
        #expect(!alice.allows(.modify, on: .table("ks", "t")))
        #expect(alice.allows(.modify, on: .table("other", "x")), "granted on the keyspace, held on its tables")
        #expect(!alice.allows(.modify, on: .keyspace("ks")))
    }

    @Test func grantsOnParentsCoverChildren() {
        let loner = ResolvedPermissions(role: "loner", graph: Self.graph)
        #expect(loner.allows(.select, on: .table("any", "thing")) && loner.allows(.select, on: .keyspace("any")))
        #expect(!loner.allows(.select, on: .role("alice")), "data and role resources are separate trees")
    }

    @Test func superuserStatusIsInheritedAndAllowsEverything() {
        let ops = ResolvedPermissions(role: "ops", graph: Self.graph)
        #expect(ops.isSuperuser)
        for p in Permission.allCases { #expect(ops.allows(p, on: .table("ks", "t")) && ops.allows(p, on: .allRoles)) }
    }

    @Test func refusalNamesRolePermissionAndResource() {
        let alice = ResolvedPermissions(role: "alice", graph: Self.graph)
        do {
            try alice.check(.modify, on: .table("ks", "t"))
            Issue.record("allowed")
        } catch {
            #expect(error.code == 0x2100)
            #expect(error.message == "User alice has no MODIFY permission on <table ks.t> or any of its parents")
        }
    }

    @Test func cyclesAreDetected() {
        #expect(Self.graph.wouldCycle(granting: "alice", to: "base"), "base is already granted to alice")
        #expect(Self.graph.wouldCycle(granting: "alice", to: "alice"))
        #expect(!Self.graph.wouldCycle(granting: "base", to: "loner"))
    }

    @Test func resourcesHaveCassandrasNamesAndHierarchy() {
        let all: [AuthResource] = [.allKeyspaces, .keyspace("ks"), .table("ks", "t"), .allRoles, .role("r")]
        #expect(all.map(\.name) == ["data", "data/ks", "data/ks/t", "roles", "roles/r"])
        for r in all { #expect(AuthResource(name: r.name) == r) }
        #expect(AuthResource.table("ks", "t").chain == [.table("ks", "t"), .keyspace("ks"), .allKeyspaces])
        #expect(AuthResource.table("ks", "t").description == "<table ks.t>")
        #expect(AuthResource.table("ks", "t").applicablePermissions == [.alter, .drop, .select, .modify, .authorize])
        #expect(AuthResource(name: "functions/x") == nil)
    }

    @Test func allPermissionsMeansWhatAppliesToTheResource() throws {
        #expect(try AuthService.permissions(nil, on: .keyspace("ks")) == [.create, .alter, .drop, .select, .modify, .authorize])
        #expect(throws: CQLError.self) { try AuthService.permissions(.describe, on: .table("ks", "t")) }
    }
}

@Suite struct LoginThrottleTests {
    static let key = LoginThrottle.Key(address: "10.0.0.1", role: "cassandra")
    static let ms: UInt64 = 1_000_000

    @Test func delaysDoubleFromFiftyMillisecondsUpToTheCap() {
        var t = LoginThrottle()
        var now: UInt64 = 1_000 * Self.ms
        var waits = [UInt64]()
        for _ in 0 ..< 10 {
            let w = t.admit(Self.key, now: now)
            waits.append(w / Self.ms)
            now += w // each attempt answered (wrong) right when its slot comes
        }
        #expect(waits == [0, 50, 100, 200, 400, 800, 1600, 3200, 5000, 5000])
    }

    @Test func parallelAttemptsQueueBehindEachOther() {
        var t = LoginThrottle()
        let now: UInt64 = 1_000 * Self.ms
        let waits = (0 ..< 5).map { _ in t.admit(Self.key, now: now) / Self.ms }
        #expect(waits == [0, 50, 150, 350, 750])
        // Another role or address is not slowed by them.
        #expect(t.admit(.init(address: "10.0.0.2", role: "cassandra"), now: now) == 0)
        #expect(t.admit(.init(address: "10.0.0.1", role: "alice"), now: now) == 0)
    }

    @Test func aThousandWrongAttemptsTakeFarMoreThanTenSeconds() {
        var t = LoginThrottle()
        var now: UInt64 = 0
        for _ in 0 ..< 1000 { now += t.admit(Self.key, now: now) }
        #expect(now >= 10_000 * Self.ms)
        #expect(now >= 4_900_000 * Self.ms, "capped at 5 s each: over an hour")
    }

    @Test func successAndQuietPeriodForget() {
        var t = LoginThrottle()
        for _ in 0 ..< 4 { _ = t.admit(Self.key, now: 0) }
        t.onSuccess(Self.key)
        #expect(t.admit(Self.key, now: 0) == 0)
        var q = LoginThrottle()
        var now: UInt64 = 0
        for _ in 0 ..< 6 { now += q.admit(Self.key, now: now) }
        #expect(q.admit(Self.key, now: now + q.settings.quietPeriodNanos + 1) == 0)
    }

    @Test func memoryIsBounded() {
        var settings = LoginThrottle.Settings()
        settings.maxKeys = 100
        var t = LoginThrottle(settings: settings)
        for i in 0 ..< 1000 { _ = t.admit(.init(address: "10.0.\(i / 256).\(i % 256)", role: "r"), now: UInt64(i)) }
        #expect(t.entries.count <= 100)
    }
}

@Suite struct BcryptTests {
    // Openwall crypt_blowfish / libxcrypt test vectors; for these ASCII passwords `$2a$` and `$2b$`
    // compute the same hash, so each is checked under both prefixes.
    static let vectors: [(String, String)] = [
        ("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
        ("U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"),
        ("U*U*U", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a"),
        ("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored",
         "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"),
    ]

    @Test func knownVectorsVerify() {
        for (password, hash) in Self.vectors {
            let b = "$2b$" + hash.dropFirst(4)
            #expect(Bcrypt.verify(password, against: hash))
            #expect(Bcrypt.verify(password, against: b))
            #expect(Bcrypt.crypt(password, setting: b) == b)
            #expect(!Bcrypt.verify("x" + password, against: b))
        }
    }

    @Test func roundTripIsSaltedAtTheConfiguredCost() throws {
        let a = try #require(Bcrypt.hash("s3cret", logRounds: 4))
        let b = try #require(Bcrypt.hash("s3cret", logRounds: 4))
        #expect(a.hasPrefix("$2b$04$") && a.count == 60)
        #expect(a != b, "a fresh salt each time")
        #expect(Bcrypt.verify("s3cret", against: a) && Bcrypt.verify("s3cret", against: b))
        #expect(!Bcrypt.verify("s3creT", against: a))
        #expect(Bcrypt.logRounds(of: a) == 4)
        #expect(!Bcrypt.verify("s3cret", against: "plain text"))
    }

    @Test func hashingRunsOnTheHasherThreads() async throws {
        let hasher = PasswordHasher(threads: 1)
        defer { hasher.shutdown() }
        let h = try await hasher.hash("pw", logRounds: 4)
        #expect(await hasher.verify("pw", against: h) == true)
        #expect(await hasher.verify("nope", against: h) == false)
    }
}

@Suite struct SASLPlainTests {
    @Test func tokensAreSplitIntoRoleAndPassword() throws {
        let ok = PasswordAuthenticator.credentials([0] + Array("alice".utf8) + [0] + Array("pw".utf8))
        #expect(try ok.get() == ("alice", "pw"))
        if case .success = PasswordAuthenticator.credentials(nil) { Issue.record("accepted no token") }
        if case .success = PasswordAuthenticator.credentials(Array("alice".utf8)) { Issue.record("accepted no password") }
    }
}
