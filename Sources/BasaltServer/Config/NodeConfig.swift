import BasaltCore
import BasaltNet
import BasaltCluster
import BasaltStorage

/// Everything a node needs to start: identity, addresses, cluster membership, storage and timeouts.
///
/// Built from defaults, then a YAML file (``NodeConfig/loading(yaml:)``), then `BASALT_*` environment
/// variables (``NodeConfig/loading(environment:)``), then command-line flags (each a
/// ``NodeConfig/setting(_:to:)`` of its YAML key), each overriding the one before. ``validate()`` rejects settings that
/// cannot work with a message naming the setting.
public struct NodeConfig: Sendable, Equatable {
    public var clusterName = "Basalt Cluster"
    /// The node's own address: internode and native servers listen on it, and outgoing internode
    /// connections bind to it so that per-node network rules match.
    public var listenAddress = "127.0.0.1"
    /// Addresses of seed nodes (host or host:port). Seeds only help nodes find each other.
    public var seeds: [String] = ["127.0.0.1"]
    public var dataDirectory = "data"
    /// CQL native protocol port.
    public var nativePort = 9042
    /// Internode messaging port.
    public var internodePort = 7000
    /// Port of the admin endpoint (HTTP: `/status`, `/ring`, `/metrics`) on the listen address; 0 turns
    /// it off.
    public var adminPort = 7199
    /// Virtual nodes per node.
    public var numTokens = 16
    /// The replication factor token allocation balances ownership for (Cassandra's
    /// `allocate_tokens_for_local_replication_factor`).
    public var allocationReplicationFactor = 3
    /// How long a node starting for the first time waits to learn the ring through gossip before it
    /// picks its tokens (Cassandra's ring delay), when it has seeds other than itself.
    public var ringDelayMillis = 10_000
    public var dataCenter = "datacenter1"
    public var rack = "rack1"

    public var commitLogSync = CommitLogSyncSetting.group
    /// For `periodic` sync: the interval between fsyncs.
    public var commitLogSyncPeriodMillis = 10_000
    /// For `group` sync: the least time between the starts of two syncs while writers overlap
    /// (milliseconds, fractions allowed).
    public var commitLogGroupWindowMillis = 2.0
    public var commitLogSegmentSizeMiB = 32
    /// Segments after the first are written over files of their full size prepared ahead (segments
    /// no longer needed, reused, else zero-filled files), so a sync writes data only; false: each
    /// segment grows as it is written.
    public var commitLogPreallocateSegments = true
    /// Space the live commit-log segments may take before the tables keeping the oldest one alive
    /// are flushed (Cassandra's `commitlog_total_space`); 0: the smaller of 8 GiB and a quarter of
    /// the data directory's file system.
    public var commitLogTotalSpaceMiB = 0
    public var memtableSizeMiB = 64
    /// Memory all memtables may hold before writes wait (Cassandra's `memtable_heap_space`); 0 for
    /// twice the flush threshold, which is then the larger of 512 MiB and 4 × `memtable_size_in_mb`.
    public var memtableHeapSpaceMiB = 0
    /// With `memtable_heap_space_in_mb`: the largest memtable is flushed above this fraction of it.
    public var memtableCleanupThreshold = 0.5
    public var compactionThroughputMiBPerSecond = 64
    /// What a commit-log write failure does (docs/storage.md, "Disk failures").
    public var commitFailurePolicy = CommitFailurePolicy.stop
    /// What a flush or compaction I/O failure or a damaged SSTable does.
    public var diskFailurePolicy = DiskFailurePolicy.bestEffort
    /// A node whose wall clock is further than this from the majority of its live peers refuses
    /// writes that need a server-side timestamp (docs/membership.md, "Clock offsets"); 0 turns the
    /// refusal off (offsets are still measured and reported).
    public var maxClockOffsetMillis = 500
    /// libuv event loops (threads) serving client and internode connections; 0: one per core.
    public var eventLoops = 0
    /// Compaction threads; 0: half the cores (at least 1, at most 8).
    public var concurrentCompactors = 0
    /// Memtable flush threads; 0: a quarter of the cores (at least 1, at most 4).
    public var memtableFlushWriters = 0
    /// Fraction of a core an automatic flush or compaction uses while it is ahead of its work
    /// (`StorageConfig.backgroundCPUShare`); 1 runs them flat out.
    public var backgroundCPUShare = 0.25

    public var writeTimeoutMillis = 2_000
    public var readTimeoutMillis = 5_000
    public var rangeTimeoutMillis = 10_000
    /// How a coordinator sends `ORDER BY … ANN OF` queries to replicas (docs/vector.md).
    public var vectorSearchRouting = IndexQueryRouting.perReplica
    public var requestTimeoutMillis = 10_000

    public var hintedHandoffEnabled = true
    public var maxHintWindowMillis = 3 * 3_600_000
    public var maxHintsSizeMiB = 1024
    public var hintsThrottleKiBPerSecond = 1024

    /// Whether a first start with a ring to join streams the data of its ranges before it serves
    /// them (bootstrap). Off: it joins empty at once (as before data movement existed).
    public var autoBootstrap = true
    /// Outbound streaming limit in MiB/s (Cassandra's `stream_throughput_outbound`); 0 = unthrottled.
    /// Settable at run time through the admin endpoint.
    public var streamThroughputMiBPerSecond = 24
    /// On a first start: take over the tokens of the dead node at this address and stream its data
    /// (Cassandra's `replace_address_first_boot`); empty for none.
    public var replaceAddressFirstBoot = ""

    /// Native transport limits (Cassandra's names; docs/server.md). Sizes in bytes, times in ms;
    /// -1 or 0 means no limit where the key says so.
    public var nativeMaxFrameSize = 16 << 20
    public var nativeMaxRequestDataInFlight = 64 << 20
    public var nativeMaxRequestDataInFlightPerIP = 16 << 20
    public var nativeThrowOnOverload = false
    public var nativeMaxConcurrentConnections = -1
    public var nativeMaxConcurrentConnectionsPerIP = -1
    public var nativeIncompleteFrameTimeoutMillis = 60_000
    /// 0: idle connections stay open (Cassandra's default).
    public var nativeIdleTimeoutMillis = 0
    /// Internode limits: largest message, accepted connections (-1 for no cap), half-sent frames.
    public var internodeMaxMessageSize = 16 << 20
    public var internodeMaxConcurrentConnections = 1024
    public var internodeIncompleteFrameTimeoutMillis = 60_000

    /// `AllowAllAuthenticator` (default) or `PasswordAuthenticator` (roles in `system_auth`).
    public var authenticator = "AllowAllAuthenticator"
    /// `AllowAllAuthorizer` (default) or `CassandraAuthorizer` (GRANT/REVOKE permissions; needs PasswordAuthenticator).
    public var authorizer = "AllowAllAuthorizer"
    /// Deprecated: the superuser the cluster's first start creates (Cassandra's `cassandra`/`cassandra`).
    /// Read once, when `system_auth` has no role yet; afterwards roles change only through CQL.
    public var superuserName = "cassandra"
    public var superuserPassword = "cassandra"
    /// bcrypt cost (log2 of the rounds) of new password hashes, 4…31 (Cassandra's `auth_bcrypt_gensalt_log2_rounds`).
    public var bcryptLogRounds = 10
    /// How long cached credentials and resolved permissions are used, and after how long they are
    /// reloaded in the background (Cassandra's `credentials_validity`, `credentials_update_interval`,
    /// `permissions_validity`, `permissions_update_interval`), in milliseconds; 0 disables a cache.
    public var credentialsValidityMillis = 2000
    public var credentialsUpdateIntervalMillis = 2000
    public var permissionsValidityMillis = 2000
    public var permissionsUpdateIntervalMillis = 2000
    /// `audit_logging_options`: off by default; lines go to `audit_logs_dir` (default `<data_directory>/audit`).
    public var auditLogEnabled = false
    public var auditLogger = "FileAuditLogger"
    public var auditLogDirectory = ""
    public var auditLogMaxSizeBytes = 16 << 20
    public var auditLogMaxFiles = 10

    /// TLS for CQL clients (`client_encryption_options`) and between nodes
    /// (`server_encryption_options`); off by default. NodeConfig+Encryption.swift.
    public var clientEncryption = EncryptionOptions()
    public var serverEncryption = EncryptionOptions()

    /// Log level: trace, debug, info, notice, warning, error, critical.
    public var logLevel = "info"

    public init() {}

    /// The internode address seeds are reached at: a bare host gets this node's internode port.
    public var seedAddresses: [(host: String, port: Int)] {
        seeds.compactMap { seed in
            let parts = seed.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count == 2, let port = Int(parts[1]) { return (String(parts[0]), port) }
            if parts.count == 1, !seed.isEmpty { return (seed, internodePort) }
            return nil
        }
    }

    /// Every problem with the settings, each naming its setting; empty when the node can start.
    public func problems() -> [String] {
        var out = [String]()
        func port(_ name: String, _ v: Int, allowZero: Bool = false) {
            if !(allowZero && v == 0) && !(1 ... 65535).contains(v) { out.append("\(name) must be 1…65535, got \(v)") }
        }
        if clusterName.isEmpty { out.append("cluster_name must not be empty") }
        if !NodeConfig.isIPv4(listenAddress) { out.append("listen_address must be an IPv4 address, got '\(listenAddress)'") }
        port("native_transport_port", nativePort)
        port("storage_port", internodePort)
        port("admin_port", adminPort, allowZero: true)
        if nativePort == internodePort { out.append("native_transport_port and storage_port must differ") }
        if !(1 ... 256).contains(numTokens) { out.append("num_tokens must be 1…256, got \(numTokens)") }
        if !(1 ... 16).contains(allocationReplicationFactor) {
            out.append("allocate_tokens_for_local_replication_factor must be 1…16, got \(allocationReplicationFactor)")
        }
        if !(0 ... 600_000).contains(ringDelayMillis) { out.append("ring_delay_in_ms must be 0…600000, got \(ringDelayMillis)") }
        if adminPort != 0 && (adminPort == nativePort || adminPort == internodePort) {
            out.append("admin_port must differ from native_transport_port and storage_port")
        }
        if dataCenter.isEmpty { out.append("dc must not be empty") }
        if rack.isEmpty { out.append("rack must not be empty") }
        if seeds.isEmpty { out.append("seeds must name at least one node") }
        for seed in seeds {
            let parts = seed.split(separator: ":", omittingEmptySubsequences: false)
            let hostOK = NodeConfig.isIPv4(String(parts[0])) || NameResolution.isHostName(String(parts[0]))
            let portOK = parts.count == 1 || (parts.count == 2 && Int(parts[1]).map { (1 ... 65535).contains($0) } == true)
            if !hostOK || !portOK { out.append("seed '\(seed)' is not an IPv4 address or host name, with an optional :port") }
        }
        if dataDirectory.isEmpty { out.append("data_directory must not be empty") }
        if commitLogSyncPeriodMillis <= 0 { out.append("commitlog_sync_period_in_ms must be positive") }
        if !(0 ... 1000).contains(commitLogGroupWindowMillis) { out.append("commitlog_sync_group_window_in_ms must be 0…1000") }
        if !(1 ... 1024).contains(commitLogSegmentSizeMiB) { out.append("commitlog_segment_size_in_mb must be 1…1024") }
        if !(0 ... 1 << 24).contains(commitLogTotalSpaceMiB) { out.append("commitlog_total_space_in_mb must be 0 (automatic)…16777216") }
        if !(1 ... 65536).contains(memtableSizeMiB) { out.append("memtable_size_in_mb must be 1…65536") }
        if !(0 ... 1 << 20).contains(memtableHeapSpaceMiB) { out.append("memtable_heap_space_in_mb must be 0 (automatic)…1048576") }
        if !(memtableCleanupThreshold > 0 && memtableCleanupThreshold <= 1) { out.append("memtable_cleanup_threshold must be above 0 and at most 1") }
        if maxClockOffsetMillis < 0 { out.append("max_clock_offset_ms must not be negative (0 = no refusal)") }
        for (key, v) in [("event_loops", eventLoops), ("concurrent_compactors", concurrentCompactors), ("memtable_flush_writers", memtableFlushWriters)]
            where v < 0 || v > 256 {
            out.append("\(key) must be between 0 (follow the machine's cores) and 256")
        }
        if !(backgroundCPUShare >= 0.05 && backgroundCPUShare <= 1) { out.append("background_cpu_share must be 0.05…1 (1 = flushes and compactions never pace)") }
        if compactionThroughputMiBPerSecond < 0 { out.append("compaction_throughput_mb_per_sec must not be negative (0 = unthrottled)") }
        for (name, v) in [("write_request_timeout_in_ms", writeTimeoutMillis), ("read_request_timeout_in_ms", readTimeoutMillis),
                          ("range_request_timeout_in_ms", rangeTimeoutMillis), ("request_timeout_in_ms", requestTimeoutMillis)] where v <= 0 {
            out.append("\(name) must be positive")
        }
        if maxHintWindowMillis < 0 { out.append("max_hint_window_in_ms must not be negative") }
        if maxHintsSizeMiB <= 0 { out.append("max_hints_size_in_mb must be positive") }
        if streamThroughputMiBPerSecond < 0 { out.append("stream_throughput_outbound must not be negative (0 = unthrottled)") }
        if !replaceAddressFirstBoot.isEmpty && !NodeConfig.isIPv4(replaceAddressFirstBoot) {
            out.append("replace_address_first_boot must be an IPv4 address, got '\(replaceAddressFirstBoot)'")
        }
        if !replaceAddressFirstBoot.isEmpty && replaceAddressFirstBoot == listenAddress {
            out.append("replace_address_first_boot names this node's own address")
        }
        if nativeMaxFrameSize < 1024 || nativeMaxFrameSize > Int(Int32.max) {
            out.append("native_transport_max_frame_size must be 1KiB…2GiB, got \(nativeMaxFrameSize) bytes")
        }
        if internodeMaxMessageSize < 64 << 10 || internodeMaxMessageSize > Int(Int32.max) {
            out.append("internode_max_message_size must be 64KiB…2GiB, got \(internodeMaxMessageSize) bytes")
        }
        for (name, v) in [("native_transport_incomplete_frame_timeout", nativeIncompleteFrameTimeoutMillis),
                          ("native_transport_idle_timeout", nativeIdleTimeoutMillis),
                          ("internode_incomplete_frame_timeout", internodeIncompleteFrameTimeoutMillis)] where v < 0 {
            out.append("\(name) must not be negative (0 turns it off)")
        }
        if hintsThrottleKiBPerSecond <= 0 { out.append("hinted_handoff_throttle_in_kb must be positive") }
        if !["AllowAllAuthenticator", "PasswordAuthenticator"].contains(authenticator) {
            out.append("authenticator must be AllowAllAuthenticator or PasswordAuthenticator, got '\(authenticator)'")
        }
        out += securityProblems
        out += encryptionProblems
        if !["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) {
            out.append("log_level '\(logLevel)' is not a level")
        }
        return out
    }

    /// Whether `s` is a dotted-quad IPv4 address.
    public static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in p.count <= 3 && UInt8(p) != nil }
    }
}

/// When the commit log makes a write durable before the write is acknowledged.
public enum CommitLogSyncSetting: String, Sendable, Equatable, CaseIterable {
    /// fsync before acknowledging; concurrent writers share one fsync (the default).
    case group
    /// fsync before acknowledging, one batch of queued writes per fsync.
    case batch
    /// acknowledge at once; fsync every `commitlog_sync_period_in_ms`.
    case periodic
}
