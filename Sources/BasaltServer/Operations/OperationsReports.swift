import BasaltCluster
import BasaltCore

/// `ReleaseVersion: 5.0.0`, as `nodetool version` prints it.
struct VersionReport: Encodable {
    var releaseVersion: String
    var text: String { "ReleaseVersion: \(releaseVersion)\n" }
}

/// `basalt admin info`: `Key : value` lines, as `nodetool info` prints them.
struct InfoReport: Encodable {
    var id: String
    var gossipActive: Bool
    var status: String
    var load: Int
    var generation: Int64
    var uptimeSeconds: Int
    var residentBytes: Int
    var dataCenter: String
    var rack: String
    var tokens: Int
    var releaseVersion: String
    var liveSSTables: Int
    var writes: Int
    var reads: Int
    var hintsPending: Int
    /// `NORMAL`, or `DRAINED` after `basalt admin drain` (writes refused until restart).
    var mode: String
    var compactionThroughputMiBPerSecond: Int?

    var text: String {
        let rows: [(String, String)] = [
            ("ID", id), ("Gossip active", "\(gossipActive)"), ("Mode", mode), ("Status", status),
            ("Load", StatusReport.formatBytes(Double(load))), ("Generation No", "\(generation)"), ("Uptime (seconds)", "\(uptimeSeconds)"),
            ("Resident memory", StatusReport.formatBytes(Double(residentBytes))), ("Data Center", dataCenter), ("Rack", rack),
            ("Tokens", "\(tokens)"), ("Release version", releaseVersion), ("Live SSTables", "\(liveSSTables)"),
            ("Local writes", "\(writes)"), ("Local reads", "\(reads)"), ("Hints pending", "\(hintsPending)"),
            ("Compaction throughput", compactionThroughputMiBPerSecond.map(CompactionThroughputReport.describe) ?? "?"),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0 + String(repeating: " ", count: width - $0.0.count) + " : " + $0.1 }.joined(separator: "\n") + "\n"
    }
}

/// `basalt admin describecluster`, laid out as `nodetool describecluster`.
struct DescribeClusterReport: Encodable {
    var name: String
    var partitioner: String
    var snitch: String
    /// Schema version → addresses of the live nodes holding it.
    var schemaVersions: [String: [String]]
    var unreachable: [String]

    var text: String {
        var out = "Cluster Information:\n\tName: \(name)\n\tSnitch: \(snitch)\n\tPartitioner: \(partitioner)\n\tSchema versions:\n"
        for v in schemaVersions.keys.sorted() { out += "\t\t\(v): [\(schemaVersions[v]!.joined(separator: ", "))]\n" }
        if !unreachable.isEmpty { out += "\t\tUNREACHABLE: [\(unreachable.joined(separator: ", "))]\n" }
        return out
    }
}

/// `basalt admin gossipinfo`: every endpoint's gossiped state, as `nodetool gossipinfo` lists it.
struct GossipInfoReport: Encodable {
    struct Endpoint: Encodable {
        var address: String
        var up: Bool
        var generation: Int64
        var status: String?
        var hostId: String?
        var tokens: Int
        var dataCenter: String
        var rack: String
        var nativeAddress: String?
        var schema: String?
        var releaseVersion: String?
        var load: Double?
    }

    var endpoints: [Endpoint]

    init(_ snapshot: MembershipSnapshot) {
        endpoints = snapshot.sortedMembers.map { m in
            Endpoint(address: m.address.description, up: m.isAlive, generation: m.generation, status: m.status?.rawValue,
                     hostId: m.hostId?.description, tokens: m.tokens.count, dataCenter: m.dataCenter, rack: m.rack,
                     nativeAddress: m.nativeAddress?.description, schema: m.schemaVersion?.description, releaseVersion: m.releaseVersion,
                     load: m.load)
        }
    }

    var text: String {
        endpoints.map { e in
            var lines = ["/\(e.address)", "  generation:\(e.generation)", "  STATUS:\(e.status ?? "UNKNOWN")", "  UP:\(e.up)"]
            if let h = e.hostId { lines.append("  HOST_ID:\(h)") }
            lines.append("  TOKENS:\(e.tokens)")
            lines.append("  DC:\(e.dataCenter)")
            lines.append("  RACK:\(e.rack)")
            if let n = e.nativeAddress { lines.append("  NATIVE_ADDRESS_AND_PORT:\(n)") }
            if let s = e.schema { lines.append("  SCHEMA:\(s)") }
            if let r = e.releaseVersion { lines.append("  RELEASE_VERSION:\(r)") }
            if let l = e.load { lines.append("  LOAD:\(l)") }
            return lines.joined(separator: "\n") + "\n"
        }.joined()
    }
}

/// `basalt admin getendpoints`: the replicas' addresses, one per line, primary first.
struct EndpointsReport: Encodable {
    var token: Int64
    var replicas: [String]
    var text: String { replicas.map { $0 + "\n" }.joined() }
}

/// `basalt admin tablestats`.
struct TableStatsReport: Encodable {
    struct Table: Encodable {
        var keyspace: String
        var table: String
        var sstables: Int
        var liveBytes: Int
        var quarantinedSSTables: Int
    }

    var tables: [Table]

    var text: String {
        var out = ""
        var keyspace: String?
        for t in tables {
            if t.keyspace != keyspace {
                out += "Keyspace : \(t.keyspace)\n"
                keyspace = t.keyspace
            }
            out += "\t\tTable: \(t.table)\n\t\tSSTable count: \(t.sstables)\n"
                + "\t\tSpace used (live): \(t.liveBytes)\n\t\tQuarantined SSTables: \(t.quarantinedSSTables)\n\n"
        }
        return out.isEmpty ? "no tables\n" : out
    }
}

/// `basalt admin compactionstats`.
struct CompactionStatsReport: Encodable {
    var compactions: Int
    var bytesRead: Int
    var bytesWritten: Int
    var liveSSTables: Int
    var flushes: Int
    var bytesFlushed: Int

    var text: String {
        "compactions completed: \(compactions) (\(StatusReport.formatBytes(Double(bytesRead))) read, "
            + "\(StatusReport.formatBytes(Double(bytesWritten))) written)\n"
            + "flushes: \(flushes) (\(StatusReport.formatBytes(Double(bytesFlushed))))\nlive SSTables: \(liveSSTables)\n"
    }
}

/// `basalt admin proxyhistograms`: percentiles of coordinated request latency in microseconds,
/// laid out as `nodetool proxyhistograms`. Values are bucket bounds (1-2.5-5 steps), so a
/// percentile reads "at most this".
struct ProxyHistogramsReport: Encodable {
    struct Column: Encodable {
        var count: UInt64
        /// Percentile ("50%", …, "Max") to microseconds (nil: no request, or beyond 10 s).
        var micros: [String: Double?]
    }

    static let percentiles: [(String, Double)] = [("50%", 0.5), ("75%", 0.75), ("95%", 0.95), ("98%", 0.98), ("99%", 0.99), ("Max", 1.0)]
    var read: Column
    var write: Column
    var rangeRead: Column

    init(read: BucketHistogram.Snapshot, write: BucketHistogram.Snapshot, rangeRead: BucketHistogram.Snapshot) {
        func column(_ s: BucketHistogram.Snapshot) -> Column {
            Column(count: s.count, micros: Dictionary(uniqueKeysWithValues: Self.percentiles.map { name, q in
                (name, s.quantileUpperBound(q).flatMap { $0 == .max ? nil : Double($0) / 1000 })
            }))
        }
        self.read = column(read)
        self.write = column(write)
        self.rangeRead = column(rangeRead)
    }

    var text: String {
        func cell(_ c: Column, _ p: String) -> String { (c.micros[p] ?? nil).map { "\(Int($0.rounded()))" } ?? "-" }
        let rows = Self.percentiles.map { p, _ in [p, cell(read, p), cell(write, p), cell(rangeRead, p)] }
        return "Proxy histograms (microseconds, at most)\n"
            + StatusReport.table(header: ["Percentile", "Read Latency", "Write Latency", "Range Latency"], rows: rows)
            + "requests: \(read.count) reads, \(write.count) writes, \(rangeRead.count) range reads\n"
    }
}

/// `basalt admin listpendinghints`, as `nodetool listpendinghints` lays it out.
struct PendingHintsReport: Encodable {
    struct Target: Encodable {
        var hostId: String
        var address: String?
        var isAlive: Bool?
        var bytes: Int
    }

    var targets: [Target]

    var text: String {
        guard !targets.isEmpty else { return "This node does not have any pending hints\n" }
        return StatusReport.table(header: ["Host ID", "Address", "Status", "Bytes"], rows: targets.map {
            [$0.hostId, $0.address ?? "?", $0.isAlive.map { $0 ? "UP" : "DOWN" } ?? "?", "\($0.bytes)"]
        })
    }
}

/// A partition key as an operator types it (`nodetool getendpoints`): the value's text, the parts
/// of a compound key joined by `:`.
enum PartitionKeyText {
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    static func encode(_ text: String, for table: TableSchema) throws(Problem) -> [UInt8] {
        let columns = table.partitionKey
        let parts = columns.count == 1 ? [Substring(text)] : text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == columns.count else {
            throw Problem(description: "the partition key of \(table.keyspace).\(table.name) has \(columns.count) parts; give them joined by ':'")
        }
        var encoded: [[UInt8]] = []
        for (column, part) in zip(columns, parts) {
            guard let value = value(String(part), column.type) else {
                throw Problem(description: "'\(part)' is not a \(column.type) (partition key column \(column.name))")
            }
            do { encoded.append(try column.type.encode(value)) } catch {
                throw Problem(description: "'\(part)' is not a \(column.type) (partition key column \(column.name))")
            }
        }
        return TableSchema.partitionKeyBytes(encoded)
    }

    static func value(_ s: String, _ type: CQLType) -> CQLValue? {
        switch type {
        case .text: return .text(s)
        case .ascii: return .ascii(s)
        case .int: return Int32(s).map(CQLValue.int)
        case .bigint: return Int64(s).map(CQLValue.bigint)
        case .smallint: return Int16(s).map(CQLValue.smallint)
        case .tinyint: return Int8(s).map(CQLValue.tinyint)
        case .boolean: return ["true": true, "false": false][s.lowercased()].map(CQLValue.boolean)
        case .double: return Double(s).map(CQLValue.double)
        case .float: return Float(s).map(CQLValue.float)
        case .uuid: return UUIDValue(s).map(CQLValue.uuid)
        case .timeuuid: return UUIDValue(s).map(CQLValue.timeuuid)
        case .timestamp: return Int64(s).map(CQLValue.timestamp)
        case .blob:
            let hex = s.hasPrefix("0x") ? String(s.dropFirst(2)) : s
            guard hex.count % 2 == 0 else { return nil }
            var bytes: [UInt8] = []
            var i = hex.startIndex
            while i < hex.endIndex {
                let j = hex.index(i, offsetBy: 2)
                guard let b = UInt8(hex[i ..< j], radix: 16) else { return nil }
                bytes.append(b)
                i = j
            }
            return .blob(bytes)
        default: return nil
        }
    }
}
