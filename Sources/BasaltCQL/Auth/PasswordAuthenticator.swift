import BasaltCore

/// Cassandra's PasswordAuthenticator as the native protocol sees it: the server answers STARTUP
/// with AUTHENTICATE naming ``className``; the client sends a SASL PLAIN token
/// (`[authzid] \0 user \0 password`); the server answers AUTH_SUCCESS or Bad credentials
/// (0x0100). Basalt keeps one configured superuser (no role tables).
public struct PasswordAuthenticator: Hashable, Sendable {
    public static let className = "org.apache.cassandra.auth.PasswordAuthenticator"

    public var users: [String: String]

    public init(superuser: String, password: String) { users = [superuser: password] }

    /// The user a SASL PLAIN token authenticates, or the error to answer with.
    public func authenticate(_ token: [UInt8]?) -> Result<String, CQLError> {
        guard let token else { return .failure(.badCredentials("Authentication failed: empty SASL token")) }
        let parts = token.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 || parts.count == 2 else { return .failure(.badCredentials("Authentication failed: malformed SASL PLAIN token")) }
        let user = String(decoding: parts[parts.count - 2], as: UTF8.self)
        let password = String(decoding: parts[parts.count - 1], as: UTF8.self)
        guard let expected = users[user], Self.constantTimeEqual(Array(expected.utf8), Array(password.utf8)) else {
            return .failure(.badCredentials("Provided username \(user) and/or password are incorrect"))
        }
        return .success(user)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0 ..< max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }
}
