import BasaltCore
import BasaltStorage
@testable import BasaltCluster

/// Replicas, a clustered table and partition contents for the coordination state machine tests.
enum CoordinationFixtures {
    static func replica(_ n: Int, dc: String = "dc1", alive: Bool = true, local: Bool = false) -> Replica {
        Replica(identity: NodeIdentity(hostId: UUIDValue(msb: UInt64(n), lsb: 7), address: NodeAddress(host: "10.0.0.\(n)", port: 7000)),
                dataCenter: dc, isAlive: alive, isLocal: local)
    }

    /// `CREATE TABLE ks.t (k int, c int, v int, PRIMARY KEY (k, c))`.
    static let table = TableSchema(keyspace: "ks", name: "t", id: UUIDValue(msb: 9, lsb: 9), columns: [
        ColumnDefinition(name: "k", type: .int, kind: .partitionKey, position: 0),
        ColumnDefinition(name: "c", type: .int, kind: .clustering, position: 0),
        ColumnDefinition(name: "v", type: .int, kind: .regular),
        ColumnDefinition(name: "w", type: .int, kind: .regular),
    ])
    static let cmp = ClusteringComparator(table)

    static func int32(_ v: Int) -> [UInt8] {
        var w = ByteWriter(capacity: 4)
        w.writeInt32(Int32(v))
        return w.bytes
    }

    static let key = int32(1)

    /// A row written by INSERT at `ts` with `v = value`.
    static func row(_ c: Int, _ value: Int, ts: Int64) -> Row {
        Row(clustering: [int32(c)], liveness: LivenessInfo(timestamp: ts), cells: [Cell.live(column: "v", timestamp: ts, value: int32(value))])
    }

    /// A row deleted at `ts`.
    static func deletedRow(_ c: Int, ts: Int64) -> Row {
        Row(clustering: [int32(c)], deletion: DeletionTime(markedForDeleteAt: ts, localDeletionTime: 1000))
    }

    static func partition(_ rows: [Row], key: [UInt8] = key) -> PartitionResult {
        PartitionResult(partitionKey: key, update: PartitionUpdate(rows: rows))
    }

    static func command(limit: Int = .max, reversed: Bool = false, columns: ColumnSelection = .all) -> ReadCommand {
        ReadCommand(schema: table, partitionKey: key, columns: columns, reversed: reversed, limit: limit, nowSeconds: 2000)
    }

    static func clusteringValues(_ p: PartitionResult) -> [Int] {
        p.update.rows.map { r in
            var reader = ByteReader(r.clustering[0])
            return Int((try? reader.readInt32()) ?? -1)
        }
    }
}
