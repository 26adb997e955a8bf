import BasaltProtocol
/// Cassandra's PasswordAuthenticator as the native protocol sees it: the server answers STARTUP
/// with AUTHENTICATE naming ``className``; the client sends a SASL PLAIN token
/// (`[authzid] \0 user \0 password`); the server answers AUTH_SUCCESS or Bad credentials
/// (0x0100). The credentials are checked by ``AuthService`` against `system_auth.roles`.
public enum PasswordAuthenticator {
    public static let className = "org.apache.cassandra.auth.PasswordAuthenticator"

    /// The role name and password of a SASL PLAIN token, or the error to answer with.
    public static func credentials(_ token: [UInt8]?) -> Result<(role: String, password: String), CQLError> {
        guard let token else { return .failure(.badCredentials("Authentication failed: empty SASL token")) }
        let parts = token.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 || parts.count == 2 else { return .failure(.badCredentials("Authentication failed: malformed SASL PLAIN token")) }
        let user = String(decoding: parts[parts.count - 2], as: UTF8.self)
        let password = String(decoding: parts[parts.count - 1], as: UTF8.self)
        guard !user.isEmpty else { return .failure(.badCredentials("Authentication ID must not be null")) }
        guard !password.isEmpty else { return .failure(.badCredentials("Password must not be null")) }
        return .success((user, password))
    }
}
