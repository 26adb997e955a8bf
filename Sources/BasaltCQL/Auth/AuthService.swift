import BasaltCore
import BasaltProtocol
import Logging
import Synchronization

/// Authentication and authorization of one node, Cassandra's way: roles, credentials and
/// permissions live in `system_auth` (``RoleStore``); passwords are bcrypt hashes checked on the
/// ``PasswordHasher`` threads; credentials and resolved permissions are cached for their validity
/// periods; failed logins are slowed per client address and role (``LoginThrottle``), counted
/// and logged (at most one line per second, with how many were left out).
public final class AuthService: @unchecked Sendable {
    // @unchecked: `processor` is set once before use (``attach(_:)``), `throttle`, `failureLog`
    // and `dummyHash` are only touched under `lock`; the rest are immutable or thread-safe.
    public struct Settings: Sendable {
        /// `authenticator: PasswordAuthenticator`.
        public var authentication = true
        /// `authorizer: CassandraAuthorizer` (else AllowAllAuthorizer: every logged-in role may do anything).
        public var authorization = false
        /// `auth_bcrypt_gensalt_log2_rounds`.
        public var bcryptLogRounds = 10
        public var credentialsValidityNanos: UInt64 = 2_000_000_000
        public var credentialsUpdateIntervalNanos: UInt64 = 2_000_000_000
        public var permissionsValidityNanos: UInt64 = 2_000_000_000
        public var permissionsUpdateIntervalNanos: UInt64 = 2_000_000_000
        /// The superuser the first start creates (Cassandra's `cassandra`/`cassandra`).
        public var defaultSuperuser = "cassandra"
        public var defaultSuperuserPassword = "cassandra"
        /// How long after start the node waits before creating `system_auth` and the default superuser
        /// (lets a starting cluster settle its ring first, as Cassandra's superuser setup delay does).
        public var setupDelayNanos: UInt64 = 0
        public var throttle = LoginThrottle.Settings()
        public init() {}
    }

    /// Counters for the node's metrics.
    public final class Counters: Sendable {
        public let successes = Atomic<Int>(0)
        public let failures = Atomic<Int>(0)
        /// Attempts that had to wait for the throttle.
        public let throttled = Atomic<Int>(0)
        public let throttleWaitNanos = Atomic<Int>(0)
        public let unauthorized = Atomic<Int>(0)
        public let credentialsLoads = Atomic<Int>(0)
        public let permissionsLoads = Atomic<Int>(0)
    }

    public let settings: Settings
    public let counters = Counters()
    public let audit: AuditLog?
    let hasher: PasswordHasher
    let clock: any Clock
    let sleep: @Sendable (UInt64) async -> Void
    let logger: Logger
    let credentials: ValidityCache<RoleRecord?>
    let permissions: ValidityCache<ResolvedPermissions>
    private let lock = Lock()
    private var processor: QueryProcessor?
    private var throttle: LoginThrottle
    private var failureLog = (lastNanos: UInt64(0), suppressed: 0)
    private var dummyHash: String?
    private var setupTask: Task<Void, Never>?

    public init(settings: Settings, hasher: PasswordHasher = PasswordHasher(), audit: AuditLog? = nil, clock: any Clock,
                sleep: @escaping @Sendable (UInt64) async -> Void = { try? await Task.sleep(nanoseconds: $0) }, logger: Logger) {
        self.settings = settings
        self.hasher = hasher
        self.audit = audit
        self.clock = clock
        self.sleep = sleep
        self.logger = logger
        throttle = LoginThrottle(settings: settings.throttle)
        credentials = ValidityCache(validityNanos: settings.credentialsValidityNanos, updateIntervalNanos: settings.credentialsUpdateIntervalNanos)
        permissions = ValidityCache(validityNanos: settings.permissionsValidityNanos, updateIntervalNanos: settings.permissionsUpdateIntervalNanos)
    }

    /// The processor internal statements run through; set once when CQL starts.
    public func attach(_ processor: QueryProcessor) { lock.withLock { self.processor = processor } }

    func store() throws(CQLError) -> RoleStore {
        guard let p = lock.withLock({ processor }) else { throw .serverError("Authentication is not ready yet") }
        return RoleStore(processor: p, defaultSuperuser: settings.defaultSuperuser)
    }

    // MARK: - Authentication

    /// Checks a SASL PLAIN token from `address`: the role's name and password (after waiting for
    /// the throttle). The authenticated role, or Bad credentials (0x0100).
    public func authenticate(token: [UInt8]?, address: String) async -> Result<String, CQLError> {
        let role: String, password: String
        switch PasswordAuthenticator.credentials(token) {
        case let .success(c): (role, password) = c
        case let .failure(e):
            failed(role: "", address: address, e)
            return .failure(e)
        }
        let key = LoginThrottle.Key(address: address, role: role)
        let wait = lock.withLock { throttle.admit(key, now: clock.monotonicNanos()) }
        if wait > 0 {
            counters.throttled.add(1, ordering: .relaxed)
            counters.throttleWaitNanos.add(Int(clamping: wait), ordering: .relaxed)
            await sleep(wait)
        }
        let result = await check(role: role, password: password)
        switch result {
        case .success:
            lock.withLock { throttle.onSuccess(key) }
            counters.successes.add(1, ordering: .relaxed)
            audit?.record(.init(category: "AUTH", type: "LOGIN_SUCCESS", role: role, address: address, operation: ""))
        case let .failure(e):
            failed(role: role, address: address, e)
        }
        return result
    }

    func check(role: String, password: String) async -> Result<String, CQLError> {
        let record: RoleRecord?
        do { record = try await credentialsRecord(role) } catch {
            return .failure(.badCredentials("Unable to perform authentication: \(error.message)"))
        }
        let incorrect = CQLError.badCredentials("Provided username \(role) and/or password are incorrect")
        guard let record, let hash = record.saltedHash else {
            // The same work as for a real role, so a wrong name answers as slowly as a wrong password.
            _ = await hasher.verify(password, against: await dummy())
            return .failure(incorrect)
        }
        guard let ok = await hasher.verify(password, against: hash) else {
            return .failure(.badCredentials("Unable to perform authentication: too many logins in progress"))
        }
        guard ok else { return .failure(incorrect) }
        guard record.canLogin else { return .failure(.badCredentials("\(role) is not permitted to log in")) }
        return .success(role)
    }

    func credentialsRecord(_ role: String) async throws(CQLError) -> RoleRecord? {
        let store = try store()
        let counters = counters
        return try await credentials.get(role, now: clock.monotonicNanos()) { () async throws(CQLError) -> RoleRecord? in
            counters.credentialsLoads.add(1, ordering: .relaxed)
            return try await store.role(role)
        }
    }

    func dummy() async -> String {
        if let h = lock.withLock({ dummyHash }) { return h }
        let h = (try? await hasher.hash(String(UInt64.random(in: 0 ... .max)), logRounds: settings.bcryptLogRounds)) ?? "$2b$04$invalid"
        lock.withLock { dummyHash = h }
        return h
    }

    func failed(role: String, address: String, _ error: CQLError) {
        counters.failures.add(1, ordering: .relaxed)
        audit?.record(.init(category: "AUTH", type: "LOGIN_ERROR", role: role, address: address, operation: error.message))
        let now = clock.monotonicNanos()
        let suppressed: Int? = lock.withLock {
            if failureLog.lastNanos != 0, now - failureLog.lastNanos < 1_000_000_000 {
                failureLog.suppressed += 1
                return nil
            }
            defer { failureLog = (now, 0) }
            return failureLog.suppressed
        }
        if let suppressed {
            logger.warning("authentication failed", metadata: [
                "role": "\(role)", "client": "\(address)", "error": "\(error.message)", "similar_failures_not_logged": "\(suppressed)",
            ])
        }
    }

    // MARK: - Authorization

    /// What `role` may do, from the cache or `system_auth`. Under AllowAllAuthorizer every role
    /// holds every permission (only superuser status still matters, for superuser roles).
    public func resolvedPermissions(of role: String) async throws(CQLError) -> ResolvedPermissions {
        let store = try store()
        let counters = counters
        let authorization = settings.authorization
        return try await permissions.get(role, now: clock.monotonicNanos()) { () async throws(CQLError) -> ResolvedPermissions in
            counters.permissionsLoads.add(1, ordering: .relaxed)
            var resolved = ResolvedPermissions(role: role, graph: try await store.graph(around: role, withGrants: authorization))
            if !authorization {
                resolved.permissions = [.allKeyspaces: Set(Permission.allCases), .allRoles: Set(Permission.allCases)]
            }
            return resolved
        }
    }

    /// Refuses a statement the session's role may not run (Unauthorized, 0x2100). Role and
    /// permission statements check their own rules when they run.
    public func authorize(_ bound: BoundStatement, schema: Schema, session: ClientSession) async throws(CQLError) {
        guard settings.authorization, !session.isInternal else { return }
        let needed = StatementPermissions.required(bound.kind, schema: schema)
        guard !needed.isEmpty else { return }
        guard let user = session.user else { throw .unauthorized("You have not logged in") }
        let resolved = try await resolvedPermissions(of: user)
        for (p, r) in needed {
            do { try resolved.check(p, on: r) } catch {
                counters.unauthorized.add(1, ordering: .relaxed)
                throw error
            }
        }
    }

    /// Forgets cached credentials and permissions (after a change made through this node).
    func invalidateCaches() {
        credentials.invalidateAll()
        permissions.invalidateAll()
    }

    public func stop() {
        lock.withLock { setupTask }?.cancel()
        hasher.shutdown()
        audit?.close()
    }

    func setSetupTask(_ t: Task<Void, Never>) { lock.withLock { setupTask = t } }
}
