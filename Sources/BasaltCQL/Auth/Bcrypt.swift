import BasaltProtocol
import BasaltStorage
import CCrypt

/// bcrypt as Cassandra stores it in `system_auth.roles.salted_hash`, computed by the system's
/// libxcrypt (`crypt_gensalt_rn` with prefix `$2b$`, `crypt_r`); nothing here hashes by hand.
/// Hashes Cassandra wrote (`$2a$`) verify as well. Passwords longer than 72 bytes are cut there,
/// as bcrypt (and Cassandra's jBCrypt) does.
public enum Bcrypt {
    /// libxcrypt's accepted cost range (log2 of the rounds).
    public static let rounds = 4 ... 31

    /// A new salted hash of `password` at cost `logRounds` (clamped to ``rounds``); nil only when the
    /// system refuses (no entropy, out of memory).
    public static func hash(_ password: String, logRounds: Int) -> String? {
        var setting = [CChar](repeating: 0, count: 192)
        let cost = UInt(min(max(logRounds, rounds.lowerBound), rounds.upperBound))
        guard basalt_bcrypt_gensalt(cost, &setting, Int32(setting.count)) == 1 else { return nil }
        return crypt(password, setting: String(cString: setting))
    }

    /// Whether `password` hashes to `stored` (a `$2a$`/`$2b$`/`$2y$` hash), compared in constant time.
    public static func verify(_ password: String, against stored: String) -> Bool {
        guard stored.hasPrefix("$2"), let computed = crypt(password, setting: stored) else { return false }
        return constantTimeEqual(Array(computed.utf8), Array(stored.utf8))
    }

    /// The cost a stored hash was made with (`$2b$10$…` → 10).
    public static func logRounds(of stored: String) -> Int? {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0].hasPrefix("2") else { return nil }
        return Int(parts[1])
    }

    static func crypt(_ password: String, setting: String) -> String? {
        var out = [CChar](repeating: 0, count: 384)
        let ok = password.withCString { p in setting.withCString { s in basalt_crypt(p, s, &out, out.count) } }
        return ok == 1 ? String(cString: out) : nil
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0 ..< max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }
}

/// Runs bcrypt off the event loops, on a few dedicated threads with a bounded queue: a burst of
/// logins waits in the queue (or is refused when it is full) instead of stalling client I/O.
public final class PasswordHasher: Sendable {
    let workers: BackgroundExecutor

    public init(threads: Int = 2, queueLimit: Int = 4096) {
        workers = BackgroundExecutor(name: "bcrypt", threads: threads, queueLimit: queueLimit)
    }

    public func hash(_ password: String, logRounds: Int) async throws(CQLError) -> String {
        let result: String?? = await run { Bcrypt.hash(password, logRounds: logRounds) }
        guard case let .some(.some(hash)) = result else { throw .serverError("Could not hash the password (bcrypt unavailable)") }
        return hash
    }

    /// nil when the queue is full (the caller answers Overloaded-style failure).
    public func verify(_ password: String, against stored: String) async -> Bool? {
        await run { Bcrypt.verify(password, against: stored) }
    }

    func run<T: Sendable>(_ job: @escaping @Sendable () -> T) async -> T? {
        await withCheckedContinuation { (c: CheckedContinuation<T?, Never>) in
            if !workers.submit({ c.resume(returning: job()) }) { c.resume(returning: nil) }
        }
    }

    public func shutdown() { workers.shutdown(dropQueued: false) }
}
