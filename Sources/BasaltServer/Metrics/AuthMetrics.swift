import BasaltCQL

/// The authentication and authorization counters of a node (nothing is exported until CQL has
/// started with authentication configured).
enum AuthMetrics {
    static func register(in registry: MetricsRegistry, auth: @escaping @Sendable () -> AuthService?) {
        registry.register("auth") { out in
            guard let a = auth() else { return }
            let c = a.counters
            out.counter("basalt_auth_successes_total", help: "Logins that succeeded.", c.successes.load(ordering: .relaxed))
            out.counter("basalt_auth_failures_total", help: "Logins refused (wrong name or password, malformed token, role not allowed to log in).",
                        c.failures.load(ordering: .relaxed))
            out.counter("basalt_auth_throttled_total", help: "Login attempts delayed by the failed-login throttle.",
                        c.throttled.load(ordering: .relaxed))
            out.gauge("basalt_auth_throttle_wait_seconds_total", help: "Time login attempts spent waiting for the throttle.",
                      Double(c.throttleWaitNanos.load(ordering: .relaxed)) / 1e9)
            out.counter("basalt_auth_unauthorized_total", help: "Statements refused for lack of a permission.",
                        c.unauthorized.load(ordering: .relaxed))
            out.counter("basalt_auth_credentials_loads_total", help: "Credentials read from system_auth (cache misses and refreshes).",
                        c.credentialsLoads.load(ordering: .relaxed))
            out.counter("basalt_auth_permissions_loads_total", help: "Permissions resolved from system_auth (cache misses and refreshes).",
                        c.permissionsLoads.load(ordering: .relaxed))
            if let audit = a.audit {
                out.counter("basalt_audit_log_lines_total", help: "Audit lines written.", audit.written.load(ordering: .relaxed))
                out.counter("basalt_audit_log_dropped_total", help: "Audit lines dropped because the writer fell behind.",
                            audit.dropped.load(ordering: .relaxed))
            }
        }
    }
}
