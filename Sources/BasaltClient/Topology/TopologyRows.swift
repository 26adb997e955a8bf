import BasaltProtocol
import BasaltCore
import BasaltNet

/// Reads nodes and keyspace replication out of system-table rows, the way the Python driver does
/// (CQL-COMPAT §3): a peer row missing its address, host id, data center, rack or tokens is
/// ignored; replication maps name Cassandra's strategy classes. Pure functions.
enum TopologyRows {
    /// Each row as column name → decoded value (null and undecodable cells are left out).
    static func named(_ rows: RowsResult) -> [[String: CQLValue]] {
        let columns = rows.metadata.columns
        return rows.rows.map { row in
            var out = [String: CQLValue]()
            for (i, cell) in row.enumerated() where i < columns.count {
                if let cell, let v = try? columns[i].type.decode(cell) { out[columns[i].name] = v }
            }
            return out
        }
    }

    /// The node a `system.local` row describes; `address` is where the client reached it.
    static func local(_ row: [String: CQLValue], address: SocketAddress) -> ClusterNode? {
        node(row, address: address)
    }

    /// The node of a `system.peers_v2` row (`native_address`, `native_port`) or a `system.peers`
    /// row (`rpc_address`, with `defaultPort`).
    static func peer(_ row: [String: CQLValue], defaultPort: UInt16) -> ClusterNode? {
        let inet: [UInt8]
        if case let .inet(b)? = row["native_address"] {
            inet = b
        } else if case let .inet(b)? = row["rpc_address"] {
            inet = b
        } else {
            return nil
        }
        var port = defaultPort
        if case let .int(p)? = row["native_port"], let p16 = UInt16(exactly: p) { port = p16 }
        guard !inet.allSatisfy({ $0 == 0 }), let address = try? SocketAddress(host: CQLValue.inetText(inet), port: port) else { return nil }
        return node(row, address: address)
    }

    private static func node(_ row: [String: CQLValue], address: SocketAddress) -> ClusterNode? {
        guard case let .uuid(hostId)? = row["host_id"], case let .text(dc)? = row["data_center"], case let .text(rack)? = row["rack"],
              case let .set(tokenTexts)? = row["tokens"] else { return nil }
        var tokens = [Token]()
        for case let .text(t) in tokenTexts {
            if let token = Token(t) { tokens.append(token) }
        }
        guard !tokens.isEmpty else { return nil }
        var release: String?
        if case let .text(r)? = row["release_version"] { release = r }
        var schema: UUIDValue?
        if case let .uuid(s)? = row["schema_version"] { schema = s }
        return ClusterNode(hostId: hostId, address: address, dataCenter: dc, rack: rack, tokens: tokens, releaseVersion: release, schemaVersion: schema)
    }

    /// A `system_schema.keyspaces.replication` map as placement parameters; nil for strategies
    /// the client cannot place (EverywhereStrategy, custom classes), whose statements are then
    /// routed without token awareness.
    static func replication(_ map: [String: String]) -> ReplicationParams? {
        guard let cls = map["class"] else { return nil }
        switch cls.split(separator: ".").last.map(String.init) ?? cls {
        case "SimpleStrategy":
            return map["replication_factor"].flatMap(replicaCount).map { .simple(replicationFactor: $0) }
        case "NetworkTopologyStrategy":
            var factors = [String: Int]()
            for (dc, value) in map where dc != "class" && dc != "replication_factor" {
                guard let n = replicaCount(value) else { return nil }
                factors[dc] = n
            }
            return .networkTopology(factors)
        case "LocalStrategy":
            return .local
        default:
            return nil
        }
    }

    /// `3`, or Cassandra 4's transient form `3/1` (all replicas count for placement).
    private static func replicaCount(_ text: String) -> Int? {
        Int(text.split(separator: "/").first ?? "").flatMap { $0 >= 0 ? $0 : nil }
    }

    /// The replication map of a `system_schema.keyspaces` row.
    static func keyspace(_ row: [String: CQLValue]) -> (name: String, replication: ReplicationParams?)? {
        guard case let .text(name)? = row["keyspace_name"] else { return nil }
        var map = [String: String]()
        if case let .map(entries)? = row["replication"] {
            for e in entries {
                if case let .text(k) = e.key, case let .text(v) = e.value { map[k] = v }
            }
        }
        return (name, replication(map))
    }
}
