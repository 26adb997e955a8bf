import BasaltCluster
import BasaltCore
import BasaltProtocol
import BasaltStorage

/// Serves reads of the system keyspaces from rows computed on demand (live cluster state and the
/// schema), through the same read and scan commands as user tables, so that selection,
/// restrictions, filtering and paging work on them unchanged. Writes are refused.
struct VirtualTableReader: RequestCoordinator {
    /// Each table's rows by table id.
    let tables: [UUIDValue: (TableSchema, [SchemaRow])]

    init(schema: Schema, cluster: any ClusterInfoSource, tableIds: [UUIDValue]) {
        var out = [UUIDValue: (TableSchema, [SchemaRow])]()
        for id in tableIds {
            guard let t = SystemKeyspaces.systemTables.first(where: { $0.id == id }) ?? SystemKeyspaces.schemaTables.first(where: { $0.id == id }) else { continue }
            out[id] = (t, Self.rows(of: t, schema: schema, cluster: cluster))
        }
        tables = out
    }

    static func rows(of t: TableSchema, schema: Schema, cluster: any ClusterInfoSource) -> [SchemaRow] {
        if t.keyspace == SystemKeyspaces.systemSchema { return SchemaRows.rows(of: t.name, in: schema) ?? [] }
        switch t.name {
        case "local": return [SystemTableRows.local(cluster.localNode(), clusterName: cluster.clusterName, schemaVersion: schema.version)]
        case "peers": return cluster.peers().compactMap(SystemTableRows.peer)
        case "peers_v2": return cluster.peers().compactMap(SystemTableRows.peerV2)
        default: return []
        }
    }

    func write(_ mutations: [Mutation], consistency: ConsistencyLevel, writeType: WriteType) async throws(CoordinatorError) {
        throw .invalid("system keyspaces are not writable")
    }

    func read(_ command: ReadCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> PartitionResult {
        let cmp = try comparator(command.tableId)
        let p = partitions(command.tableId).first { $0.partitionKey == command.partitionKey }
        var update = p?.update ?? .empty
        update.rows = update.rows.filter { r in command.slices.contains { cmp.contains($0, r.clustering) } }
        return PartitionResult(partitionKey: command.partitionKey, update: update)
    }

    func scan(_ command: TokenScanCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> ScanResult {
        let cmp = try comparator(command.tableId)
        var out = [PartitionResult]()
        var count = 0
        var next: ScanPosition?
        for p in partitions(command.tableId) where command.range.contains(p.token) || command.range.start == command.range.end {
            if let after = command.after {
                let order = p.token != after.token ? (p.token < after.token ? -1 : 1)
                    : (p.partitionKey == after.partitionKey ? 0 : (p.partitionKey.lexicographicallyPrecedes(after.partitionKey) ? -1 : 1))
                if order < 0 { continue }
                if order == 0 {
                    guard let last = after.clustering else { continue }
                    var u = p.update
                    u.rows = u.rows.filter { cmp.compare($0.clustering, last) > 0 }
                    if u.rows.isEmpty { continue }
                    out.append(PartitionResult(partitionKey: p.partitionKey, token: p.token, update: u))
                    count += u.rows.count
                    continue
                }
            }
            if count >= command.pageSize {
                next = out.last.map { ScanPosition(token: $0.token, partitionKey: $0.partitionKey) }
                break
            }
            out.append(p)
            count += max(1, p.update.rows.count)
        }
        return ScanResult(partitions: out, next: next)
    }

    private func comparator(_ id: UUIDValue) throws(CoordinatorError) -> ClusteringComparator {
        guard let (t, _) = tables[id] else { throw .invalid("unknown system table") }
        return ClusteringComparator(t)
    }

    /// The table's partitions in token order (then key bytes), each with a marker per row.
    func partitions(_ id: UUIDValue) -> [PartitionResult] {
        guard let (t, rows) = tables[id] else { return [] }
        let cmp = ClusteringComparator(t)
        var byKey = [[UInt8]: [Row]]()
        for r in rows {
            var pk = [[UInt8]]()
            for c in t.partitionKey { pk.append(r[c.name] ?? []) }
            var row = Row(clustering: t.clustering.map { r[$0.name] ?? [] }, liveness: LivenessInfo(timestamp: 0))
            for c in t.regular {
                guard let v = r[c.name] else { continue }
                if c.type.isMultiCell, let cells = try? Self.elementCells(c, v) {
                    row.cells += cells
                } else {
                    row.cells.append(.live(column: c.name, timestamp: 0, value: v))
                }
            }
            byKey[TableSchema.partitionKeyBytes(pk), default: []].append(row)
        }
        let parts = byKey.map { key, rows in
            PartitionResult(partitionKey: key, update: PartitionUpdate(rows: rows).normalized(cmp))
        }
        return parts.sorted { a, b in a.token != b.token ? a.token < b.token : a.partitionKey.lexicographicallyPrecedes(b.partitionKey) }
    }

    static func elementCells(_ c: ColumnDefinition, _ value: [UInt8]) throws(CQLError) -> [Cell] {
        switch c.type {
        case .set: return try CollectionCells.elements(value, isMap: false).map { .live(column: c.name, path: $0, timestamp: 0, value: []) }
        case .map:
            let kv = try CollectionCells.elements(value, isMap: true)
            return stride(from: 0, to: kv.count - 1, by: 2).map { .live(column: c.name, path: kv[$0], timestamp: 0, value: kv[$0 + 1]) }
        default:
            return try CollectionCells.elements(value, isMap: false).enumerated().map { i, v in
                .live(column: c.name, path: ListElementPaths.uuid(ticks: UInt64(i + 1), node: 0), timestamp: 0, value: v)
            }
        }
    }
}
