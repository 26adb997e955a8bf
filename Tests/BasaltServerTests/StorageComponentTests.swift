import BasaltTestSupport
import BasaltCore
import BasaltServer
import BasaltStorage
import Testing

/// The storage engine inside a node: opened with the persisted tables, data kept across restarts,
/// counters on /metrics.
struct StorageComponentTests {
    static let table = TableSchema(keyspace: "ks", name: "kv", id: UUIDValue(msb: 7, lsb: 9), columns: [
        ColumnDefinition(name: "k", type: .blob, kind: .partitionKey, position: 0),
        ColumnDefinition(name: "v", type: .blob, kind: .regular),
    ])

    @Test(.timeLimit(.minutes(2)))
    func nodeOpensStorageAndKeepsDataAcrossRestarts() async throws {
        let dir = TemporaryDirectory("storage-node")
        let config = BasaltNodeTests.config(ServerTestAddress.host(50), data: dir.path + "/data")
        let key: [UInt8] = [1, 2, 3]
        let mutation = Mutation(schema: Self.table, partitionKey: key, update: PartitionUpdate(rows: [
            Row(clustering: [], cells: [.live(column: "v", timestamp: 5, value: [42])]),
        ]))

        let first = StorageComponent(initialTables: { [(Self.table, true)] })
        let node = BasaltNode(config: config, logger: BasaltNodeTests.logger, releaseVersion: "t", components: [first])
        try await node.start()
        try await first.engine.apply(mutation)
        let text = node.metrics.render()
        #expect(text.contains("basalt_storage_writes_total 1"))
        // The write waited for one group-commit fsync: the sync histogram counted it.
        #expect(text.contains("# TYPE basalt_storage_commitlog_sync_seconds histogram\n"))
        #expect(!text.contains("basalt_storage_commitlog_sync_seconds_count 0\n"))
        #expect(text.contains("basalt_storage_write_stall_seconds_count{cause=\"flush_backlog\"} 0\n"))
        #expect(text.contains("basalt_storage_flush_duration_seconds_bucket{le=\"+Inf\"}"))
        #expect(text.contains("basalt_storage_pending_compactions 0\n"))
        await node.stop()

        let second = StorageComponent(initialTables: { [(Self.table, true)] })
        let again = BasaltNode(config: config, logger: BasaltNodeTests.logger, releaseVersion: "t", components: [second])
        try await again.start()
        let read = try second.engine.read(ReadCommand(schema: Self.table, partitionKey: key, nowSeconds: 0))
        #expect(read.update.rows.first?.cells.first?.value == [42])
        await again.stop()
    }

    @Test func nodeSettingsBecomeEngineSettings() {
        var c = NodeConfig()
        c.commitLogSync = .periodic
        c.commitLogSyncPeriodMillis = 250
        c.memtableSizeMiB = 8
        let s = StorageComponent.storageConfig(c)
        #expect(s.commitLogSync == .periodic(intervalNanos: 250_000_000))
        #expect(s.memtableSizeLimitBytes == 8 << 20)
        #expect(StorageComponent.storageConfig(NodeConfig()).commitLogSync == .group(windowNanos: 2_000_000))
        c.concurrentCompactors = 3
        c.memtableFlushWriters = 2
        #expect(StorageComponent.storageConfig(c).compactionThreads == 3)
        #expect(StorageComponent.storageConfig(c).flushThreads == 2)
    }
}
