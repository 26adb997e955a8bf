import BasaltCore

/// Renders system.local, system.peers and system.peers_v2 from live cluster state, with the
/// columns the Python driver reads on connect (CQL-COMPAT §3).
enum SystemTableRows {
    static let cqlVersion = "3.4.7"
    static let partitioner = "org.apache.cassandra.dht.Murmur3Partitioner"

    static func text(_ s: String) -> [UInt8] { Array(s.utf8) }
    static func int(_ v: Int) -> [UInt8] { (try? CQLType.int.encode(.int(Int32(clamping: v)))) ?? [] }
    static func inet(_ address: String) -> [UInt8]? { LiteralParsing.inetBytes(address) }
    static func tokens(_ ts: [Token]) -> [UInt8] {
        let items = ts.map { String($0.value) }.sorted()
        return (try? CQLType.set(.text).encode(.set(items.map { .text($0) }))) ?? []
    }

    static func local(_ n: NodeInfo, clusterName: String, schemaVersion: UUIDValue) -> SchemaRow {
        var row: SchemaRow = [
            "key": text("local"), "bootstrapped": text("COMPLETED"), "broadcast_port": int(n.port),
            "cluster_name": text(clusterName), "cql_version": text(cqlVersion), "data_center": text(n.dataCenter),
            "host_id": n.hostId.bytes, "listen_port": int(n.port), "native_protocol_version": text("4"),
            "partitioner": text(partitioner), "rack": text(n.rack), "release_version": text(n.releaseVersion),
            "rpc_port": int(n.nativePort), "schema_version": (n.schemaVersion ?? schemaVersion).bytes, "tokens": tokens(n.tokens),
        ]
        row["broadcast_address"] = inet(n.address)
        row["listen_address"] = inet(n.address)
        row["rpc_address"] = inet(n.nativeAddress)
        return row
    }

    static func peer(_ n: NodeInfo) -> SchemaRow? {
        guard let peer = inet(n.address) else { return nil }
        var row: SchemaRow = [
            "peer": peer, "data_center": text(n.dataCenter), "host_id": n.hostId.bytes, "rack": text(n.rack),
            "release_version": text(n.releaseVersion), "tokens": tokens(n.tokens),
        ]
        row["rpc_address"] = inet(n.nativeAddress)
        if let v = n.schemaVersion { row["schema_version"] = v.bytes }
        return row
    }

    static func peerV2(_ n: NodeInfo) -> SchemaRow? {
        guard let peer = inet(n.address) else { return nil }
        var row: SchemaRow = [
            "peer": peer, "peer_port": int(n.port), "data_center": text(n.dataCenter), "host_id": n.hostId.bytes,
            "native_port": int(n.nativePort), "rack": text(n.rack), "release_version": text(n.releaseVersion), "tokens": tokens(n.tokens),
        ]
        row["native_address"] = inet(n.nativeAddress)
        if let v = n.schemaVersion { row["schema_version"] = v.bytes }
        return row
    }
}
