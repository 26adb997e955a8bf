import BasaltCluster
import BasaltCore
@testable import BasaltProtocol
import BasaltStorage
import Synchronization
import Testing
@testable import BasaltCQL

/// A token-range SELECT asks the coordinator for no more rows than its LIMIT leaves (YCSB's scans,
/// `token(k) >= ? LIMIT n`, read a thousand rows for each before), and still returns every row
/// it should across pages.
struct ScanLimitTests {
    /// The local coordinator, remembering the page size of every scan asked of it.
    final class Recording: RequestCoordinator, Sendable {
        let inner: LocalRequestCoordinator
        let pageSizes = Mutex<[Int]>([])
        init(_ inner: LocalRequestCoordinator) { self.inner = inner }
        func write(_ mutations: [Mutation], consistency: ConsistencyLevel, writeType: WriteType) async throws(CoordinatorError) {
            try await inner.write(mutations, consistency: consistency, writeType: writeType)
        }
        func read(_ command: ReadCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> PartitionResult {
            try await inner.read(command, consistency: consistency)
        }
        func scan(_ command: TokenScanCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> ScanResult {
            pageSizes.withLock { $0.append(command.pageSize) }
            return try await inner.scan(command, consistency: consistency)
        }
    }

    @Test func aLimitBoundsWhatTheScanAsksFor() async throws {
        let node = try SingleNodeExecutor()
        defer { node.close() }
        let recording = Recording(LocalRequestCoordinator(engine: node.engine, schema: node.holder))
        let processor = QueryProcessor(schema: node.holder, coordinator: recording, distributor: node.processor.distributor,
                                       cluster: node.processor.cluster, clock: node.clock, timestamps: node.processor.timestamps, logger: .quiet)
        try await node.run("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        try await node.run("CREATE TABLE ks.t (k int PRIMARY KEY, v int)")
        for k in 0 ..< 300 { try await node.run("INSERT INTO ks.t (k, v) VALUES (\(k), \(k))") }
        func select(_ cql: String, pageSize: Int32 = 5000) async throws -> Int {
            recording.pageSizes.withLock { $0 = [] }
            let params = QueryParameters(consistency: .one, values: [], pageSize: pageSize, pagingState: nil)
            guard case let .result(.rows(r)) = await processor.process(.query(cql, params), session: node.session) else {
                Issue.record("no rows for \(cql)")
                return -1
            }
            return r.rows.count
        }
        #expect(try await select("SELECT * FROM ks.t WHERE token(k) >= -9000000000000000000 LIMIT 1") == 1)
        #expect(recording.pageSizes.withLock { $0 } == [1])
        #expect(try await select("SELECT * FROM ks.t WHERE token(k) >= -9000000000000000000 LIMIT 50") == 50)
        #expect(recording.pageSizes.withLock { $0.allSatisfy { $0 <= 50 } })
        #expect(try await select("SELECT * FROM ks.t LIMIT 120", pageSize: 100) == 100)  // the first page of 100
        #expect(try await select("SELECT * FROM ks.t") == 300)
    }
}
