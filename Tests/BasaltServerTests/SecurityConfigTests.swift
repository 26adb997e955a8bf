import BasaltServer
import Testing

struct SecurityConfigTests {
    @Test func securitySettingsUseCassandrasNamesAndRoundTrip() throws {
        let c = try NodeConfig().loading(yaml: """
        authenticator: PasswordAuthenticator
        authorizer: CassandraAuthorizer
        auth_bcrypt_gensalt_log2_rounds: 12
        credentials_validity: 5s
        credentials_update_interval_in_ms: 1000
        permissions_validity: 3000ms
        audit_logging_options:
          enabled: true
          logger:
            class_name: BinAuditLogger
          audit_logs_dir: /var/log/basalt/audit
          max_log_size: 1048576
        """)
        #expect(c.problems().isEmpty)
        #expect(c.bcryptLogRounds == 12 && c.credentialsValidityMillis == 5000 && c.credentialsUpdateIntervalMillis == 1000)
        #expect(c.permissionsValidityMillis == 3000 && c.auditLogEnabled && c.auditLogger == "BinAuditLogger")
        #expect(try NodeConfig().loading(yaml: c.yaml) == c)
        let auth = try #require(c.authSettings)
        #expect(auth.authorization && auth.bcryptLogRounds == 12 && auth.credentialsValidityNanos == 5_000_000_000)
        #expect(auth.defaultSuperuser == "cassandra" && auth.defaultSuperuserPassword == "cassandra")
        #expect(c.auditLogSettings?.directory == "/var/log/basalt/audit" && c.auditLogSettings?.maxLogSize == 1_048_576)
    }

    @Test func defaultsAreOpenAndAuditIsOff() {
        let c = NodeConfig()
        #expect(c.authenticator == "AllowAllAuthenticator" && c.authorizer == "AllowAllAuthorizer" && c.bcryptLogRounds == 10)
        #expect(c.authSettings == nil && c.auditLogSettings == nil)
        #expect(c.credentialsValidityMillis == 2000 && c.permissionsValidityMillis == 2000)
    }

    @Test func inconsistentSettingsAreProblems() throws {
        var c = NodeConfig()
        c.authorizer = "CassandraAuthorizer"
        #expect(c.problems() == ["authorizer CassandraAuthorizer needs authenticator PasswordAuthenticator"])
        c.authenticator = "PasswordAuthenticator"
        c.bcryptLogRounds = 3
        #expect(c.problems() == ["auth_bcrypt_gensalt_log2_rounds must be 4…31, got 3"])
        #expect(throws: NodeConfigError.self) { try NodeConfig().loading(yaml: "credentials_validity: soon") }
        #expect(throws: NodeConfigError.self) { try NodeConfig().loading(yaml: "audit_logging_options:\n  colour: blue") }
    }
}
