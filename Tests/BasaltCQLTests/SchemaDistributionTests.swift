import BasaltCluster
import BasaltCore
import BasaltNet
@testable import BasaltProtocol
import BasaltStorage
import Foundation
import Testing
@testable import BasaltCQL

/// Schema distribution between three in-process nodes over real internode messaging on
/// 127.0.4.11–13 (ephemeral ports), schema holders without storage.
struct SchemaDistributionTests {
    final class Node: @unchecked Sendable {
        let holder: SchemaHolder
        let messaging: MessagingService
        let distributor: ClusterSchemaDistributor
        let processor: QueryProcessor
        let session = ClientSession()

        init(host: Int, everyone: LockedValue<[SocketAddress]>, alive: LockedValue<Set<String>>) throws {
            holder = try SchemaHolder(directory: nil, engine: nil, logger: .quiet)
            messaging = MessagingService(settings: MessagingSettings(address: try SocketAddress(host: "127.0.4.\(host)", port: 0)), threads: 1, logger: .quiet)
            let clock = SystemClock()
            let me = "127.0.4.\(host)"
            distributor = ClusterSchemaDistributor(holder: holder, messaging: messaging, hostId: UUIDValue(msb: UInt64(host), lsb: 1),
                                                   timestamps: TimestampGenerator(clock: clock), peerVersions: PeerSchemaVersions(),
                                                   clock: clock, pushTimeout: .seconds(5), logger: .quiet) {
                let up = alive.with { $0 }
                return everyone.with { $0 }.filter { $0.host != me }.map { .init(address: $0, isAlive: up.contains($0.host)) }
            }
            distributor.register()
            let info = NodeInfo(hostId: UUIDValue(msb: UInt64(host), lsb: 1), address: me, nativeAddress: me, tokens: [])
            processor = QueryProcessor(schema: holder, coordinator: NoDataCoordinator(), distributor: distributor,
                                       cluster: SingleNodeClusterInfo(clusterName: "c", node: info), clock: clock, logger: .quiet)
        }

        func run(_ cql: String) async throws {
            if case let .error(e) = await processor.process(.query(cql, QueryParameters()), session: session) { throw e }
        }
    }

    func cluster() async throws -> ([Node], LockedValue<Set<String>>) {
        let everyone = LockedValue<[SocketAddress]>([])
        let alive = LockedValue<Set<String>>(["127.0.4.11", "127.0.4.12", "127.0.4.13"])
        var nodes = [Node]()
        for h in 11 ... 13 {
            let n = try Node(host: h, everyone: everyone, alive: alive)
            try await n.messaging.start()
            everyone.with { $0.append(n.messaging.address) }
            nodes.append(n)
        }
        return (nodes, alive)
    }

    @Test func ddlReachesEveryNodeBeforeTheAnswer() async throws {
        let (nodes, _) = try await cluster()
        try await nodes[0].run("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
        try await nodes[1].run("CREATE TABLE ks.t (k int PRIMARY KEY, v text)")
        let versions = Set(nodes.map(\.holder.version))
        #expect(versions.count == 1)
        #expect(nodes.allSatisfy { $0.holder.schema.table("ks", "t") != nil })
        // Every node's peer table already shows the others at that version.
        for n in nodes {
            for other in nodes where other !== n {
                #expect(n.distributor.peerVersions.version(of: other.messaging.address.host) == versions.first)
            }
        }
        for n in nodes { await n.messaging.shutdown() }
    }

    @Test func concurrentDDLConvergesThroughPulls() async throws {
        let (nodes, alive) = try await cluster()
        try await nodes[0].run("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
        // Partition node 3 away from pushes; two nodes create the same table differently meanwhile.
        alive.with { $0 = ["127.0.4.11", "127.0.4.12"] }
        async let a: Void = nodes[0].run("CREATE TABLE ks.t (k int PRIMARY KEY, a text)")
        async let b: Void = nodes[2].run("CREATE TABLE ks.t (k int PRIMARY KEY, b blob)")
        _ = try await (a, b)
        try await nodes[2].run("CREATE TABLE ks.only3 (k int PRIMARY KEY)")
        alive.with { $0 = ["127.0.4.11", "127.0.4.12", "127.0.4.13"] }
        // Gossip would report versions; here each node hears the others' versions directly.
        let deadline = Date().addingTimeInterval(20)
        while Set(nodes.map(\.holder.version)).count > 1 && Date() < deadline {
            for n in nodes {
                for other in nodes where other !== n { n.distributor.peerReported(other.messaging.address, version: other.holder.version) }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(Set(nodes.map(\.holder.version)).count == 1)
        #expect(Set(nodes.compactMap { $0.holder.schema.table("ks", "t") }).count == 1)
        #expect(nodes.allSatisfy { $0.holder.schema.table("ks", "only3") != nil })
        for n in nodes { await n.messaging.shutdown() }
    }

    @Test func localChangesOrderAfterEntriesFromFasterClocks() throws {
        let holder = try SchemaHolder(directory: nil, engine: nil, logger: .quiet)
        func change(_ text: String) throws -> SchemaChange {
            guard case let .schemaChange(c) = try Binder(schema: holder.schema, keyspace: nil).bind(text).kind else { throw CQLError.invalid("not DDL") }
            return c
        }
        // Another node, clock far ahead, created the keyspace; this node creates a table in it.
        try holder.merge([SchemaLogEntry(timestamp: 1_000_000, origin: UUIDValue(msb: 2, lsb: 2),
                                         change: try change("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"))])
        try holder.accept(SchemaLogEntry(timestamp: 500, origin: UUIDValue(msb: 1, lsb: 1), change: try change("CREATE TABLE ks.t (k int PRIMARY KEY)")))
        #expect(holder.schema.table("ks", "t") != nil)
        #expect(SchemaLog(entries: holder.entries).schema == holder.schema)
    }

    @Test func schemaLogOrderIndependence() throws {
        var rng = SplitMix64(seed: 5)
        var schema = Schema.empty
        var entries = [SchemaLogEntry]()
        for i in 0 ..< 30 {
            let text = i % 3 == 0 ? "CREATE KEYSPACE k\(i % 4) WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
                : (i % 3 == 1 ? "CREATE TABLE k\(i % 4).t\(i % 5) (k int PRIMARY KEY)" : "DROP TABLE IF EXISTS k\(i % 4).t\((i + 1) % 5)")
            guard let bound = try? Binder(schema: schema, keyspace: nil).bind(text), case let .schemaChange(c) = bound.kind else { continue }
            entries.append(SchemaLogEntry(timestamp: Int64(rng.next() % 1000), origin: UUIDValue(msb: rng.next() % 3, lsb: 0), change: c))
            if let next = try? schema.applying(c).0 { schema = next }
        }
        let reference = SchemaLog(entries: entries).schema
        for _ in 0 ..< 20 {
            var shuffled = entries
            shuffled.shuffle(using: &rng)
            var log = SchemaLog()
            var i = 0
            while i < shuffled.count {
                let n = Int(rng.next() % 4) + 1
                log.merge(Array(shuffled[i ..< min(i + n, shuffled.count)]))
                i += n
            }
            #expect(log.schema == reference)
            #expect(try SchemaLog.decode(SchemaLog.encode(log.entries)) == log.entries)
        }
    }
}

/// A coordinator for tests that only exercise schema: no data.
struct NoDataCoordinator: RequestCoordinator {
    func write(_ mutations: [Mutation], consistency: ConsistencyLevel, writeType: WriteType) async throws(CoordinatorError) {}
    func read(_ command: ReadCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> PartitionResult {
        PartitionResult(partitionKey: command.partitionKey, update: .empty)
    }
    func scan(_ command: TokenScanCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> ScanResult {
        ScanResult(partitions: [], next: nil)
    }
}
