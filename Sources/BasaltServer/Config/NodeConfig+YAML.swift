import BasaltCore
import BasaltCluster
import BasaltStorage
import Yams

/// Why a configuration file could not be used.
public struct NodeConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var problems: [String]
    public init(_ problems: [String]) { self.problems = problems }
    public var description: String { "invalid configuration:\n" + problems.map { "  - " + $0 }.joined(separator: "\n") }
}

extension NodeConfig {
    /// The YAML keys a configuration file may hold, Cassandra's names where Cassandra has one.
    public static let yamlKeys: [String] = [
        "cluster_name", "listen_address", "seeds", "data_directory", "native_transport_port", "storage_port",
        "admin_port", "num_tokens", "allocate_tokens_for_local_replication_factor", "ring_delay_in_ms", "dc", "rack",
        "commitlog_sync", "commitlog_sync_period_in_ms",
        "commitlog_sync_group_window_in_ms", "commitlog_segment_size_in_mb", "commitlog_preallocate_segments",
        "commitlog_total_space_in_mb", "memtable_size_in_mb",
        "memtable_heap_space_in_mb", "memtable_cleanup_threshold",
        "compaction_throughput_mb_per_sec", "write_request_timeout_in_ms", "read_request_timeout_in_ms",
        "range_request_timeout_in_ms", "request_timeout_in_ms", "hinted_handoff_enabled", "max_hint_window_in_ms",
        "max_hints_size_in_mb", "hinted_handoff_throttle_in_kb", "auto_bootstrap", "stream_throughput_outbound",
        "replace_address_first_boot", "authenticator", "authorizer", "superuser_name",
        "superuser_password", "auth_bcrypt_gensalt_log2_rounds", "credentials_validity", "credentials_update_interval",
        "permissions_validity", "permissions_update_interval", "credentials_validity_in_ms", "credentials_update_interval_in_ms",
        "permissions_validity_in_ms", "permissions_update_interval_in_ms", "audit_logging_options", "log_level", "vector_search_routing",
        "commit_failure_policy", "disk_failure_policy", "max_clock_offset_ms",
        "native_transport_max_frame_size", "native_transport_max_request_data_in_flight",
        "native_transport_max_request_data_in_flight_per_ip", "native_transport_throw_on_overload",
        "native_transport_max_concurrent_connections", "native_transport_max_concurrent_connections_per_ip",
        "native_transport_incomplete_frame_timeout", "native_transport_idle_timeout",
        "internode_max_message_size", "internode_max_concurrent_connections", "internode_incomplete_frame_timeout",
        "event_loops", "concurrent_compactors", "memtable_flush_writers", "background_cpu_share",
        "client_encryption_options", "server_encryption_options",
    ]

    /// Applies the settings of a YAML document over `self`. Unknown keys and values of the wrong kind
    /// are errors naming the key; nothing is silently ignored.
    public func loading(yaml text: String) throws(NodeConfigError) -> NodeConfig {
        let node: Yams.Node?
        do { node = try Yams.compose(yaml: text) } catch { throw NodeConfigError(["not valid YAML: \(error)"]) }
        guard let node else { return self }
        guard let mapping = node.mapping else { throw NodeConfigError(["the configuration must be a mapping of settings"]) }
        var c = self
        var problems = [String]()
        for (k, v) in mapping {
            guard let key = k.string else { problems.append("a key is not a string"); continue }
            do { try c.set(key, v) } catch { problems.append(error.problems.joined(separator: "; ")) }
        }
        if !problems.isEmpty { throw NodeConfigError(problems) }
        return c
    }

    mutating func set(_ key: String, _ v: Yams.Node) throws(NodeConfigError) {
        func str() throws(NodeConfigError) -> String {
            guard let s = v.scalar?.string else { throw NodeConfigError(["\(key) must be a string"]) }
            return s
        }
        func int() throws(NodeConfigError) -> Int {
            guard let s = v.scalar?.string, let i = Int(s) else { throw NodeConfigError(["\(key) must be an integer"]) }
            return i
        }
        func double() throws(NodeConfigError) -> Double {
            guard let s = v.scalar?.string, let d = Double(s), d.isFinite else { throw NodeConfigError(["\(key) must be a number"]) }
            return d
        }
        func bool() throws(NodeConfigError) -> Bool {
            switch v.scalar?.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: throw NodeConfigError(["\(key) must be true or false"])
            }
        }
        switch key {
        case "cluster_name": clusterName = try str()
        case "listen_address": listenAddress = try str()
        case "seeds":
            if let seq = v.sequence {
                var list = [String]()
                for item in seq {
                    guard let s = item.string else { throw NodeConfigError(["seeds must be addresses"]) }
                    list.append(s)
                }
                seeds = list
            } else {
                seeds = NodeConfig.splitList(try str())
            }
        case "data_directory": dataDirectory = try str()
        case "native_transport_port": nativePort = try int()
        case "storage_port": internodePort = try int()
        case "admin_port": adminPort = try int()
        case "num_tokens": numTokens = try int()
        case "allocate_tokens_for_local_replication_factor": allocationReplicationFactor = try int()
        case "ring_delay_in_ms": ringDelayMillis = try int()
        case "dc": dataCenter = try str()
        case "rack": rack = try str()
        case "commitlog_sync":
            guard let mode = CommitLogSyncSetting(rawValue: try str()) else {
                throw NodeConfigError(["commitlog_sync must be group, batch or periodic"])
            }
            commitLogSync = mode
        case "commitlog_sync_period_in_ms": commitLogSyncPeriodMillis = try int()
        case "commitlog_sync_group_window_in_ms": commitLogGroupWindowMillis = try double()
        case "commitlog_segment_size_in_mb": commitLogSegmentSizeMiB = try int()
        case "commitlog_preallocate_segments": commitLogPreallocateSegments = try bool()
        case "commitlog_total_space_in_mb": commitLogTotalSpaceMiB = try int()
        case "memtable_size_in_mb": memtableSizeMiB = try int()
        case "memtable_heap_space_in_mb": memtableHeapSpaceMiB = try int()
        case "memtable_cleanup_threshold":
            memtableCleanupThreshold = try double()
        case "compaction_throughput_mb_per_sec": compactionThroughputMiBPerSecond = try int()
        case "event_loops": eventLoops = try int()
        case "concurrent_compactors": concurrentCompactors = try int()
        case "memtable_flush_writers": memtableFlushWriters = try int()
        case "background_cpu_share": backgroundCPUShare = try double()
        case "vector_search_routing":
            guard let routing = IndexQueryRouting(rawValue: try str()) else {
                throw NodeConfigError(["vector_search_routing must be per_replica or per_range"])
            }
            vectorSearchRouting = routing
        case "write_request_timeout_in_ms": writeTimeoutMillis = try int()
        case "read_request_timeout_in_ms": readTimeoutMillis = try int()
        case "range_request_timeout_in_ms": rangeTimeoutMillis = try int()
        case "request_timeout_in_ms": requestTimeoutMillis = try int()
        case "hinted_handoff_enabled": hintedHandoffEnabled = try bool()
        case "max_hint_window_in_ms": maxHintWindowMillis = try int()
        case "max_hints_size_in_mb": maxHintsSizeMiB = try int()
        case "hinted_handoff_throttle_in_kb": hintsThrottleKiBPerSecond = try int()
        case "auto_bootstrap": autoBootstrap = try bool()
        case "stream_throughput_outbound": streamThroughputMiBPerSecond = try NodeConfig.parseMiBPerSecond(key, try str())
        case "replace_address_first_boot": replaceAddressFirstBoot = try str()
        case "authenticator": authenticator = try str()
        case "authorizer": authorizer = try str()
        case "auth_bcrypt_gensalt_log2_rounds": bcryptLogRounds = try int()
        case "credentials_validity", "credentials_validity_in_ms": credentialsValidityMillis = try NodeConfig.parseMillis(key, try str())
        case "credentials_update_interval", "credentials_update_interval_in_ms":
            credentialsUpdateIntervalMillis = try NodeConfig.parseMillis(key, try str())
        case "permissions_validity", "permissions_validity_in_ms": permissionsValidityMillis = try NodeConfig.parseMillis(key, try str())
        case "permissions_update_interval", "permissions_update_interval_in_ms":
            permissionsUpdateIntervalMillis = try NodeConfig.parseMillis(key, try str())
        case "audit_logging_options": try setAuditLogging(v)
        case "client_encryption_options": try Self.parseEncryption(key, v, into: &clientEncryption)
        case "server_encryption_options": try Self.parseEncryption(key, v, into: &serverEncryption)
        case "superuser_name": superuserName = try str()
        case "superuser_password": superuserPassword = try str()
        case "log_level": logLevel = try str()
        case "commit_failure_policy":
            guard let p = CommitFailurePolicy(rawValue: try str()) else {
                throw NodeConfigError(["commit_failure_policy must be die, stop, stop_commit or ignore"])
            }
            commitFailurePolicy = p
        case "disk_failure_policy":
            guard let p = DiskFailurePolicy(rawValue: try str()) else {
                throw NodeConfigError(["disk_failure_policy must be die, stop, stop_paranoid, best_effort or ignore"])
            }
            diskFailurePolicy = p
        case "max_clock_offset_ms": maxClockOffsetMillis = try int()
        case "native_transport_max_frame_size": nativeMaxFrameSize = try NodeConfig.parseBytes(key, try str())
        case "native_transport_max_request_data_in_flight": nativeMaxRequestDataInFlight = try NodeConfig.parseBytes(key, try str())
        case "native_transport_max_request_data_in_flight_per_ip": nativeMaxRequestDataInFlightPerIP = try NodeConfig.parseBytes(key, try str())
        case "native_transport_throw_on_overload": nativeThrowOnOverload = try bool()
        case "native_transport_max_concurrent_connections": nativeMaxConcurrentConnections = try int()
        case "native_transport_max_concurrent_connections_per_ip": nativeMaxConcurrentConnectionsPerIP = try int()
        case "native_transport_incomplete_frame_timeout": nativeIncompleteFrameTimeoutMillis = try NodeConfig.parseMillis(key, try str())
        case "native_transport_idle_timeout": nativeIdleTimeoutMillis = try NodeConfig.parseMillis(key, try str())
        case "internode_max_message_size": internodeMaxMessageSize = try NodeConfig.parseBytes(key, try str())
        case "internode_max_concurrent_connections": internodeMaxConcurrentConnections = try int()
        case "internode_incomplete_frame_timeout": internodeIncompleteFrameTimeoutMillis = try NodeConfig.parseMillis(key, try str())
        default:
            throw NodeConfigError(["unknown setting '\(key)' (known: \(NodeConfig.yamlKeys.joined(separator: ", ")))"])
        }
    }

    /// A rate in MiB/s: a whole number, optionally followed by `MiB/s` (Cassandra 4.1's form).
    static func parseMiBPerSecond(_ key: String, _ text: String) throws(NodeConfigError) -> Int {
        var t = text.trimmingCharacters(in: " ")
        if t.hasSuffix("MiB/s") { t = String(t.dropLast(5)).trimmingCharacters(in: " ") }
        guard let v = Int(t), v >= 0 else { throw NodeConfigError(["\(key) must be a whole number of MiB/s (e.g. 24MiB/s), got '\(text)'"]) }
        return v
    }

    /// A size in bytes: a whole number, optionally followed by a unit `B`, `KiB`, `MiB` or `GiB`
    /// (Cassandra 4.1's form, e.g. `16MiB`); a bare number is bytes. -1 is kept (no limit).
    static func parseBytes(_ key: String, _ text: String) throws(NodeConfigError) -> Int {
        let t = text.trimmingCharacters(in: " ")
        for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10), ("B", 0)] where t.hasSuffix(unit) {
            if let v = Int(String(t.dropLast(unit.count)).trimmingCharacters(in: " ")), v >= 0, v <= Int(Int32.max) >> shift {
                return v << shift
            }
            throw NodeConfigError(["\(key) must be a size such as 16MiB, 512KiB or 1048576B, got '\(text)'"])
        }
        guard let v = Int(t), v >= -1 else { throw NodeConfigError(["\(key) must be a size such as 16MiB, 512KiB or 1048576B, got '\(text)'"]) }
        return v
    }

    /// A duration in milliseconds: a whole number followed by `ms`, `s`, `m` or `h` (Cassandra 4.1's
    /// form, e.g. `60s`); a bare number is milliseconds.
    static func parseMillis(_ key: String, _ text: String) throws(NodeConfigError) -> Int {
        let t = text.trimmingCharacters(in: " ")
        for (unit, factor) in [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)] where t.hasSuffix(unit) {
            if let v = Int(String(t.dropLast(unit.count)).trimmingCharacters(in: " ")), v >= 0, v <= Int(Int32.max) / factor {
                return v * factor
            }
            throw NodeConfigError(["\(key) must be a duration such as 60s or 500ms, got '\(text)'"])
        }
        guard let v = Int(t), v >= 0 else { throw NodeConfigError(["\(key) must be a duration such as 60s or 500ms, got '\(text)'"]) }
        return v
    }

    /// A comma-separated list with blanks trimmed.
    public static func splitList(_ s: String) -> [String] {
        s.split(separator: ",").map { $0.trimmingCharacters(in: " \t") }.filter { !$0.isEmpty }
    }

    /// The settings as a YAML document that ``loading(yaml:)`` reads back to the same configuration.
    public var yaml: String {
        func q(_ s: String) -> String { "\"" + s.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\"" }
        return """
        cluster_name: \(q(clusterName))
        listen_address: \(listenAddress)
        seeds: [\(seeds.joined(separator: ", "))]
        data_directory: \(q(dataDirectory))
        native_transport_port: \(nativePort)
        storage_port: \(internodePort)
        admin_port: \(adminPort)
        num_tokens: \(numTokens)
        allocate_tokens_for_local_replication_factor: \(allocationReplicationFactor)
        ring_delay_in_ms: \(ringDelayMillis)
        dc: \(q(dataCenter))
        rack: \(q(rack))
        commitlog_sync: \(commitLogSync.rawValue)
        commitlog_sync_period_in_ms: \(commitLogSyncPeriodMillis)
        commitlog_sync_group_window_in_ms: \(commitLogGroupWindowMillis)
        commitlog_segment_size_in_mb: \(commitLogSegmentSizeMiB)
        commitlog_preallocate_segments: \(commitLogPreallocateSegments)
        commitlog_total_space_in_mb: \(commitLogTotalSpaceMiB)
        memtable_size_in_mb: \(memtableSizeMiB)
        memtable_heap_space_in_mb: \(memtableHeapSpaceMiB)
        memtable_cleanup_threshold: \(memtableCleanupThreshold)
        compaction_throughput_mb_per_sec: \(compactionThroughputMiBPerSecond)
        write_request_timeout_in_ms: \(writeTimeoutMillis)
        read_request_timeout_in_ms: \(readTimeoutMillis)
        range_request_timeout_in_ms: \(rangeTimeoutMillis)
        request_timeout_in_ms: \(requestTimeoutMillis)
        hinted_handoff_enabled: \(hintedHandoffEnabled)
        max_hint_window_in_ms: \(maxHintWindowMillis)
        max_hints_size_in_mb: \(maxHintsSizeMiB)
        hinted_handoff_throttle_in_kb: \(hintsThrottleKiBPerSecond)
        auto_bootstrap: \(autoBootstrap)
        stream_throughput_outbound: \(streamThroughputMiBPerSecond)MiB/s
        replace_address_first_boot: \(q(replaceAddressFirstBoot))
        authenticator: \(authenticator)
        authorizer: \(authorizer)
        superuser_name: \(q(superuserName))
        superuser_password: \(q(superuserPassword))
        auth_bcrypt_gensalt_log2_rounds: \(bcryptLogRounds)
        credentials_validity: \(credentialsValidityMillis)ms
        credentials_update_interval: \(credentialsUpdateIntervalMillis)ms
        permissions_validity: \(permissionsValidityMillis)ms
        permissions_update_interval: \(permissionsUpdateIntervalMillis)ms
        audit_logging_options:
          enabled: \(auditLogEnabled)
          logger: \(q(auditLogger))
          audit_logs_dir: \(q(auditLogDirectory))
          max_log_size: \(auditLogMaxSizeBytes)
          max_log_files: \(auditLogMaxFiles)
        log_level: \(logLevel)
        vector_search_routing: \(vectorSearchRouting.rawValue)
        commit_failure_policy: \(commitFailurePolicy.rawValue)
        disk_failure_policy: \(diskFailurePolicy.rawValue)
        max_clock_offset_ms: \(maxClockOffsetMillis)
        native_transport_max_frame_size: \(nativeMaxFrameSize)B
        native_transport_max_request_data_in_flight: \(nativeMaxRequestDataInFlight)
        native_transport_max_request_data_in_flight_per_ip: \(nativeMaxRequestDataInFlightPerIP)
        native_transport_throw_on_overload: \(nativeThrowOnOverload)
        native_transport_max_concurrent_connections: \(nativeMaxConcurrentConnections)
        native_transport_max_concurrent_connections_per_ip: \(nativeMaxConcurrentConnectionsPerIP)
        native_transport_incomplete_frame_timeout: \(nativeIncompleteFrameTimeoutMillis)ms
        native_transport_idle_timeout: \(nativeIdleTimeoutMillis)ms
        internode_max_message_size: \(internodeMaxMessageSize)B
        internode_max_concurrent_connections: \(internodeMaxConcurrentConnections)
        internode_incomplete_frame_timeout: \(internodeIncompleteFrameTimeoutMillis)ms
        event_loops: \(eventLoops)
        concurrent_compactors: \(concurrentCompactors)
        memtable_flush_writers: \(memtableFlushWriters)
        background_cpu_share: \(backgroundCPUShare)
        client_encryption_options:
        \(clientEncryption.yaml(internode: false))
        server_encryption_options:
        \(serverEncryption.yaml(internode: true))

        """
    }
}

extension StringProtocol {
    /// The string without leading and trailing characters from `set`.
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
