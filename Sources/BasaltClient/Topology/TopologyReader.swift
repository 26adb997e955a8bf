import BasaltProtocol
import BasaltCore
import BasaltNet

/// Reads the cluster's shape over one (control) connection, as the Python driver does on
/// connect: `system.local`, `system.peers_v2` (falling back to `system.peers` when the server
/// refuses it), and `system_schema.keyspaces` for replication.
enum TopologyReader {
    struct Snapshot {
        var topology: ClusterTopology
        /// The host id of the node the connection is to.
        var localHostId: UUIDValue
    }

    static func read(on connection: NodeConnection, address: SocketAddress, defaultPort: UInt16, timeout: Duration) async throws(ClientError) -> Snapshot {
        let localRows = try await select("SELECT * FROM system.local WHERE key = 'local'", on: connection, timeout: timeout)
        guard let localRow = localRows.first, let local = TopologyRows.local(localRow, address: address) else {
            throw .protocolViolation(node: connection.node, reason: "system.local has no usable row (host_id, data_center, rack, tokens)")
        }
        let peerRows = try await selectPeers("*", on: connection, timeout: timeout)
        let peers = peerRows.compactMap { TopologyRows.peer($0, defaultPort: defaultPort) }.filter { $0.hostId != local.hostId }
        var keyspaces = [String: ReplicationParams]()
        for row in try await select("SELECT keyspace_name, replication FROM system_schema.keyspaces", on: connection, timeout: timeout) {
            if let (name, replication) = TopologyRows.keyspace(row), let replication { keyspaces[name] = replication }
        }
        var partitioner: String?
        if case let .text(p)? = localRow["partitioner"] { partitioner = p }
        var clusterName: String?
        if case let .text(c)? = localRow["cluster_name"] { clusterName = c }
        let topology = ClusterTopology(nodes: [local] + peers, keyspaces: keyspaces, partitioner: partitioner, clusterName: clusterName)
        return Snapshot(topology: topology, localHostId: local.hostId)
    }

    /// Schema versions: the connected node's, then each peer's by host id.
    static func schemaVersions(on connection: NodeConnection, timeout: Duration) async throws(ClientError) -> [UUIDValue: UUIDValue] {
        var out = [UUIDValue: UUIDValue]()
        for row in try await select("SELECT host_id, schema_version FROM system.local WHERE key = 'local'", on: connection, timeout: timeout) {
            if case let .uuid(h)? = row["host_id"], case let .uuid(v)? = row["schema_version"] { out[h] = v }
        }
        for row in try await selectPeers("host_id, schema_version", on: connection, timeout: timeout) {
            if case let .uuid(h)? = row["host_id"], case let .uuid(v)? = row["schema_version"] { out[h] = v }
        }
        return out
    }

    /// `columns` of `system.peers_v2`, or of `system.peers` when the server refuses the former.
    private static func selectPeers(_ columns: String, on connection: NodeConnection, timeout: Duration) async throws(ClientError) -> [[String: CQLValue]] {
        do {
            return try await select("SELECT \(columns) FROM system.peers_v2", on: connection, timeout: timeout)
        } catch {
            guard error.cqlError != nil else { throw error }
            return try await select("SELECT \(columns) FROM system.peers", on: connection, timeout: timeout)
        }
    }

    private static func select(_ cql: String, on connection: NodeConnection, timeout: Duration) async throws(ClientError) -> [[String: CQLValue]] {
        let response = try await connection.request(.query(cql, QueryParameters(consistency: .one)), timeout: timeout)
        guard case let .result(.rows(rows)) = response else {
            throw .protocolViolation(node: connection.node, reason: "\(cql) did not return rows (\(response.opcode))")
        }
        return TopologyRows.named(rows)
    }
}
