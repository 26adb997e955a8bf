import BasaltCQL
import Yams

extension NodeConfig {
    /// `audit_logging_options: {enabled, logger, audit_logs_dir, max_log_size, max_log_files}`.
    mutating func setAuditLogging(_ v: Yams.Node) throws(NodeConfigError) {
        guard let mapping = v.mapping else { throw NodeConfigError(["audit_logging_options must be a mapping"]) }
        for (k, value) in mapping {
            let name = k.string ?? ""
            let text = value.scalar?.string ?? value.mapping?["class_name"]?.string ?? ""
            switch name {
            case "enabled":
                guard let b = ["true": true, "false": false][text.lowercased()] else {
                    throw NodeConfigError(["audit_logging_options.enabled must be true or false"])
                }
                auditLogEnabled = b
            case "logger": auditLogger = text
            case "audit_logs_dir": auditLogDirectory = text
            case "max_log_size":
                guard let n = Int(text), n > 0 else { throw NodeConfigError(["audit_logging_options.max_log_size must be a positive number of bytes"]) }
                auditLogMaxSizeBytes = n
            case "max_log_files", "max_archive_retries":
                guard let n = Int(text), n > 0 else { throw NodeConfigError(["audit_logging_options.\(name) must be positive"]) }
                auditLogMaxFiles = n
            case "included_keyspaces", "excluded_keyspaces", "included_categories", "excluded_categories", "included_users",
                 "excluded_users", "roll_cycle", "block", "max_queue_weight", "archive_command":
                continue // Cassandra's BinAuditLogger options: accepted, not used by the text log
            default: throw NodeConfigError(["unknown audit_logging_options setting '\(name)'"])
            }
        }
    }

    var securityProblems: [String] {
        var out = [String]()
        if !["AllowAllAuthorizer", "CassandraAuthorizer"].contains(authorizer) {
            out.append("authorizer must be AllowAllAuthorizer or CassandraAuthorizer, got '\(authorizer)'")
        }
        if authorizer == "CassandraAuthorizer" && authenticator != "PasswordAuthenticator" {
            out.append("authorizer CassandraAuthorizer needs authenticator PasswordAuthenticator")
        }
        if !Bcrypt.rounds.contains(bcryptLogRounds) { out.append("auth_bcrypt_gensalt_log2_rounds must be 4…31, got \(bcryptLogRounds)") }
        if superuserName.isEmpty { out.append("superuser_name must not be empty") }
        return out
    }

    /// The CQL layer's authentication and authorization settings; nil when both are AllowAll.
    public var authSettings: AuthService.Settings? {
        guard authenticator == "PasswordAuthenticator" else { return nil }
        var s = AuthService.Settings()
        s.authorization = authorizer == "CassandraAuthorizer"
        s.bcryptLogRounds = bcryptLogRounds
        s.credentialsValidityNanos = UInt64(credentialsValidityMillis) * 1_000_000
        s.credentialsUpdateIntervalNanos = UInt64(credentialsUpdateIntervalMillis) * 1_000_000
        s.permissionsValidityNanos = UInt64(permissionsValidityMillis) * 1_000_000
        s.permissionsUpdateIntervalNanos = UInt64(permissionsUpdateIntervalMillis) * 1_000_000
        s.defaultSuperuser = superuserName
        s.defaultSuperuserPassword = superuserPassword
        s.setupDelayNanos = 2_000_000_000
        return s
    }

    /// The audit log's settings when it is enabled.
    public var auditLogSettings: AuditLog.Settings? {
        guard auditLogEnabled else { return nil }
        var s = AuditLog.Settings(directory: auditLogDirectory.isEmpty ? dataDirectory + "/audit" : auditLogDirectory)
        s.maxLogSize = auditLogMaxSizeBytes
        s.maxFiles = auditLogMaxFiles
        return s
    }
}
