import BasaltCore
import BasaltProtocol

extension AuthService {
    /// Creates `system_auth` and, when the cluster has no role at all, the default superuser — in
    /// the background after ``Settings/setupDelayNanos``, retried every second until it works (the
    /// replicas may not be up yet); with no delay (a node alone) first in line, before returning. Safe on every node at once: the tables have fixed ids and the
    /// superuser's row is written `USING TIMESTAMP 0`, so concurrent creations are the same write and
    /// any later ALTER or DROP wins over it.
    public func startSetup() async {
        // A node alone sets up before it serves, so its first client can log in at once.
        if settings.setupDelayNanos == 0, (try? await setUp()) != nil { return }
        let task = Task {
            if settings.setupDelayNanos > 0 { await sleep(settings.setupDelayNanos) }
            while !Task.isCancelled {
                do {
                    try await setUp()
                    return
                } catch {
                    logger.info("auth setup not done yet; retrying", metadata: ["error": "\(error)"])
                    await sleep(1_000_000_000)
                }
            }
        }
        setSetupTask(task)
    }

    func setUp() async throws(CQLError) {
        let store = try store()
        if !SystemAuthSchema.isComplete(in: store.processor.schema.schema) {
            for change in SystemAuthSchema.creation() { _ = try await store.processor.distributor.announce(change) }
        }
        guard try await !store.anyRoleExists() else { return }
        let hash = try await hasher.hash(settings.defaultSuperuserPassword, logRounds: settings.bcryptLogRounds)
        try await store.insert(RoleRecord(name: settings.defaultSuperuser, canLogin: true, isSuperuser: true, saltedHash: hash), timestamp: 0)
        logger.warning("created the default superuser; create another superuser and drop or alter this one (see docs/security.md)",
                       metadata: ["role": "\(settings.defaultSuperuser)"])
    }
}
