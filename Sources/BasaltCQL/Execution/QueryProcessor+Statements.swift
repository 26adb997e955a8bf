import BasaltCluster
import BasaltCore
import BasaltProtocol
import BasaltStorage

extension QueryProcessor {
    /// Builds the storage mutations of the plans (one per partition, changes to the same
    /// partition merged so they apply atomically), reading current list values first where an
    /// operation needs them, and writes them through the coordinator in one call. A v5
    /// `now_in_seconds` replaces the clock's seconds for TTLs and deletion times.
    func write(_ work: [(WritePlan, [ProtocolValue])], consistency: ConsistencyLevel, timestamp: Int64, writeType: WriteType,
               nowInSeconds: Int32? = nil) async throws(CQLError) {
        let now = clock.now()
        let ctx = ExecutionContext(nowMicros: now.micros, timeUUIDNode: timeUUIDNode)
        let time = MutationTime(timestamp: timestamp, nowSeconds: nowInSeconds.map(Int64.init) ?? now.seconds, listPaths: listPaths)
        var byPartition = [PartitionRef: Int]()
        var mutations = [Mutation]()
        var comparators = [UUIDValue: ClusteringComparator]()
        for (plan, values) in work {
            if SystemKeyspaces.names.contains(plan.table.keyspace) {
                throw .unauthorized("\(plan.table.keyspace) keyspace is not user-modifiable.")
            }
            for rm in try plan.mutations(values, context: ctx) {
                var lists = [String: [LiveCell]]()
                let needed = rm.listColumnsNeedingRead
                if !needed.isEmpty { lists = try await currentLists(rm, needed, consistency: consistency, now: now.seconds) }
                let m = try rm.storageMutation(time, currentLists: lists)
                let ref = PartitionRef(tableId: m.tableId, key: m.partitionKey)
                if let i = byPartition[ref] {
                    let cmp = comparators[m.tableId] ?? ClusteringComparator(rm.table)
                    comparators[m.tableId] = cmp
                    mutations[i].update = PartitionUpdate.merge(mutations[i].update, m.update, cmp)
                } else {
                    byPartition[ref] = mutations.count
                    mutations.append(m)
                }
            }
        }
        guard !mutations.isEmpty else { return }
        try VectorWriteValidation.check(mutations, schema: schema.schema)
        do { try await coordinator.write(mutations, consistency: consistency, writeType: writeType) } catch { throw error.cqlError }
    }

    struct PartitionRef: Hashable {
        var tableId: UUIDValue
        var key: [UInt8]
    }

    /// The live elements of list columns of the row a mutation targets.
    func currentLists(_ rm: RowMutation, _ columns: [ColumnDefinition], consistency: ConsistencyLevel, now: Int64) async throws(CQLError) -> [String: [LiveCell]] {
        let isStatic = columns.contains { $0.kind == .static }
        let slices: [ClusteringSlice] = isStatic && rm.clustering.isEmpty ? [.equal([])] : [.equal(rm.clustering)]
        let command = ReadCommand(schema: rm.table, partitionKey: rm.partitionKey, slices: slices,
                                  columns: ColumnSelection(columns.map(\.name)), nowSeconds: now)
        let level: ConsistencyLevel = consistency == .any ? .one : consistency
        let result: PartitionResult
        do { result = try await coordinator.read(command, consistency: level) } catch { throw error.cqlError }
        let live = result.live(now: now, ClusteringComparator(rm.table))
        var out = [String: [LiveCell]]()
        for c in columns {
            let row = c.kind == .static ? live.staticRow : live.rows.first { $0.clustering == rm.clustering }
            out[c.name] = row?.cells.filter { $0.column == c.name } ?? []
        }
        return out
    }

    func select(_ plan: SelectPlan, bound: BoundStatement, values: [ProtocolValue], params: QueryParameters) async throws(CQLError) -> ResultBody {
        let now = clock.now()
        let query = try plan.query(values, context: ExecutionContext(nowMicros: now.micros, timeUUIDNode: timeUUIDNode))
        let reader: any RequestCoordinator
        if SystemKeyspaces.names.contains(query.table.keyspace) {
            reader = VirtualTableReader(schema: schema.schema, cluster: cluster, tableIds: [query.table.id])
        } else {
            reader = coordinator
        }
        let pageSize = params.pageSize.flatMap { $0 > 0 ? Int($0) : nil }
        let paging = try params.pagingState.map { s throws(CQLError) in try PagingState.decode(s) }
        let execution = SelectExecution(query: query, reader: reader, consistency: params.consistency,
                                        pageSize: pageSize ?? settings.maxUnpagedRows, paging: paging,
                                        nowSeconds: params.nowInSeconds.map(Int64.init) ?? now.seconds)
        let page = try await execution.run()
        if pageSize == nil, page.next != nil {
            throw .invalid("Unpaged query returned more than \(settings.maxUnpagedRows) rows; use paging")
        }
        var metadata = ResultMetadata(columns: bound.resultColumns, pagingState: page.next?.encoded(), noMetadata: params.skipMetadata)
        metadata.columnCount = bound.resultColumns.count
        // v5 EXECUTE: the client's result metadata id is stale (the table changed since it
        // prepared): send the columns and their new id (Metadata_changed).
        if let held = params.resultMetadataId, held != metadata.metadataId {
            metadata.noMetadata = false
            metadata.newMetadataId = metadata.metadataId
        }
        return .rows(RowsResult(metadata: metadata, rows: page.rows))
    }
}
