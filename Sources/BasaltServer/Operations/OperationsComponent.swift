import BasaltCluster
import BasaltCore
import BasaltCQL
import BasaltStorage
import Foundation

/// The operator's routes of the admin endpoint, behind `basalt admin`'s nodetool-like commands:
///
/// | request | answers |
/// | --- | --- |
/// | `GET /version` | the release version |
/// | `GET /info` | this node: host id, gossip and CQL state, load, generation, uptime, memory, data center, rack, tokens, storage figures |
/// | `GET /describecluster` | cluster name, partitioner, snitch, schema versions and the nodes holding each, unreachable nodes |
/// | `GET /gossipinfo` | every endpoint's gossiped state as this node knows it |
/// | `GET /getendpoints?keyspace=K&table=T&key=KEY` | the natural replicas of a partition key (compound keys' parts joined by `:`) |
/// | `GET /tablestats?keyspace=K&table=T` | per table: SSTables, live bytes on disk, quarantined SSTables |
/// | `GET /compactionstats` | compactions run and their bytes, live SSTables |
/// | `GET /proxyhistograms` | percentiles of the reads, writes and range reads this node coordinated (all levels) |
/// | `POST /compact?keyspace=K&table=T` | a major compaction of each table (all tables of K, or every user table) |
/// | `GET /listpendinghints` | hints waiting per target node |
/// | `POST /truncatehints?host=ADDR_OR_HOST_ID` | deletes the hints for one node, or all |
/// | `GET /status?keyspace=K` | `nodetool status`, with effective ownership under K's replication when K is given |
/// | `GET /tablehistograms?keyspace=K&table=T` | percentiles of a table's local read and write latency, SSTables per read, partition size, cells per read |
/// | `GET /compactionthroughput`, `POST /compactionthroughput?mb=N` | the compaction throttle (MiB/s, 0 = unthrottled) |
///
/// Every report comes as text for people or JSON (`?format=json`) for scripts.
public final class OperationsComponent: NodeComponent, @unchecked Sendable {
    // @unchecked: `context` and `started` are written in prepare, before the admin endpoint serves, under `lock`.
    public let name = "operations"
    public let stage = NodeComponentStage.service
    let storage: StorageComponent
    let coordination: CoordinationComponent
    let schema: @Sendable () -> Schema?
    let releaseVersion: String
    let lock = Lock()
    var context: NodeContext?
    private var started: ContinuousClock.Instant?

    init(storage: StorageComponent, coordination: CoordinationComponent, schema: @escaping @Sendable () -> Schema?, releaseVersion: String) {
        self.storage = storage
        self.coordination = coordination
        self.schema = schema
        self.releaseVersion = releaseVersion
    }

    public func prepare(_ context: NodeContext) throws {
        lock.withLock {
            self.context = context
            started = .now
        }
        let a = context.admin
        a.register("GET", "/version") { [self] r in .report(VersionReport(releaseVersion: releaseVersion), format: r.queryValue("format")) { $0.text } }
        a.register("GET", "/info") { [self] r in info(r) }
        a.register("GET", "/describecluster") { [self] r in describeCluster(r) }
        a.register("GET", "/gossipinfo") { r in .report(GossipInfoReport(context.membership()), format: r.queryValue("format")) { $0.text } }
        a.register("GET", "/getendpoints") { [self] r in endpoints(r) }
        a.register("GET", "/tablestats") { [self] r in tableStats(r) }
        a.register("GET", "/compactionstats") { [self] r in compactionStats(r) }
        a.register("GET", "/proxyhistograms") { [self] r in proxyHistograms(r) }
        a.register("POST", "/compact") { [self] r in await compact(r) }
        a.register("GET", "/listpendinghints") { [self] r in pendingHints(r) }
        a.register("POST", "/truncatehints") { [self] r in truncateHints(r) }
        a.register("GET", "/status") { [self] r in status(r) }
        a.register("GET", "/tablehistograms") { [self] r in tableHistograms(r) }
        a.register("GET", "/compactionthroughput") { [self] r in compactionThroughput(r) }
        a.register("POST", "/compactionthroughput") { [self] r in setCompactionThroughput(r) }
    }

    public func start(_ context: NodeContext) async throws {}
    public func stop() async {}

    /// The open engine, or nil before storage opens and after it closes.
    var engine: StorageEngine? { storage.openEngine }

    /// `NORMAL`, or `DRAINED` once `basalt admin drain` closed the node to writes.
    var mode: String { coordination.writeGate.isClosed ? "DRAINED" : "NORMAL" }

    // MARK: tables

    /// The tables a request names: `keyspace` and `table` query values (KS or KS.T), or every user table.
    enum Selection {
        case tables([TableSchema])
        case refused(HTTPResponse)
    }

    func tables(_ request: HTTPRequest) -> Selection {
        guard let schema = schema() else { return .refused(.error(503, "the schema is not loaded yet")) }
        var keyspace = request.queryValue("keyspace").flatMap { $0.isEmpty ? nil : $0 }
        var table = request.queryValue("table").flatMap { $0.isEmpty ? nil : $0 }
        if table == nil, let k = keyspace, let dot = k.firstIndex(of: ".") {
            table = String(k[k.index(after: dot)...])
            keyspace = String(k[..<dot])
        }
        guard let keyspace else {
            return .tables(schema.userKeyspaces.keys.sorted().flatMap { ks in
                schema.userKeyspaces[ks]!.tables.values.sorted { $0.name < $1.name }
            })
        }
        guard let ks = schema.keyspace(keyspace) else { return .refused(.error(400, "keyspace \(keyspace) does not exist")) }
        guard let table else { return .tables(ks.tables.values.sorted { $0.name < $1.name }) }
        guard let t = ks.tables[table] else { return .refused(.error(400, "table \(keyspace).\(table) does not exist")) }
        return .tables([t])
    }

    func tableStats(_ request: HTTPRequest) -> HTTPResponse {
        guard let engine else { return .error(503, "storage is not open yet") }
        switch tables(request) {
        case let .refused(response): return response
        case let .tables(tables):
            let stats = tables.compactMap { t -> TableStatsReport.Table? in
                guard let paths = try? engine.sstablePaths(tableId: t.id) else { return nil }
                return TableStatsReport.Table(keyspace: t.keyspace, table: t.name, sstables: paths.count,
                                              liveBytes: (try? engine.liveDataBytes(tableId: t.id)) ?? 0,
                                              quarantinedSSTables: (try? engine.quarantineReports(tableId: t.id).count) ?? 0)
            }
            return .report(TableStatsReport(tables: stats), format: request.queryValue("format")) { $0.text }
        }
    }

    func compactionStats(_ request: HTTPRequest) -> HTTPResponse {
        guard let engine else { return .error(503, "storage is not open yet") }
        let c = engine.counters
        let report = CompactionStatsReport(compactions: c.compactions, bytesRead: c.compactionBytesRead, bytesWritten: c.compactionBytesWritten,
                                           liveSSTables: c.liveSSTables, flushes: c.flushes, bytesFlushed: c.bytesFlushed)
        return .report(report, format: request.queryValue("format")) { $0.text }
    }

    func compact(_ request: HTTPRequest) async -> HTTPResponse {
        guard let engine else { return .error(503, "storage is not open yet") }
        switch tables(request) {
        case let .refused(response): return response
        case let .tables(tables):
            let result: Result<[String], Error> = await Task.detached {
                do {
                    for t in tables { try engine.compact(tableId: t.id) }
                    return .success(tables.map { "\($0.keyspace).\($0.name)" })
                } catch {
                    return .failure(error)
                }
            }.value
            switch result {
            case let .success(names): return HTTPResponse(status: 200, text: "compacted \(names.count) table(s): \(names.joined(separator: ", "))\n")
            case let .failure(error): return .error(500, "compaction failed: \(error)")
            }
        }
    }

    func proxyHistograms(_ request: HTTPRequest) -> HTTPResponse {
        guard let latencies = coordination.coordinator?.latencies else { return .error(503, "the coordinator is not started") }
        let report = ProxyHistogramsReport(read: latencies.combined(.read), write: latencies.combined(.write),
                                           rangeRead: latencies.combined(.rangeRead))
        return .report(report, format: request.queryValue("format")) { $0.text }
    }

    // MARK: cluster

    func info(_ request: HTTPRequest) -> HTTPResponse {
        guard let context = lock.withLock({ context }) else { return .error(503, "the node is not started") }
        let snapshot = context.membership()
        let local = snapshot.local
        let uptime = lock.withLock { started }.map { (ContinuousClock.now - $0) / .seconds(1) } ?? 0
        let c = engine?.counters
        let report = InfoReport(
            id: context.hostId.description, gossipActive: local != nil, status: local?.status?.rawValue ?? "STARTING",
            load: engine?.liveDataBytes ?? 0, generation: context.generation, uptimeSeconds: Int(uptime),
            residentBytes: ProcessMemory.residentBytes(), dataCenter: context.config.dataCenter, rack: context.config.rack,
            tokens: local?.tokens.count ?? 0, releaseVersion: releaseVersion, liveSSTables: c?.liveSSTables ?? 0,
            writes: c?.writes ?? 0, reads: c?.reads ?? 0, hintsPending: coordination.hintedHandoff?.store.counters.pendingHints ?? 0,
            mode: mode, compactionThroughputMiBPerSecond: engine.map { $0.compactionThroughputBytesPerSecond >> 20 })
        return .report(report, format: request.queryValue("format")) { $0.text }
    }

    func describeCluster(_ request: HTTPRequest) -> HTTPResponse {
        guard let context = lock.withLock({ context }) else { return .error(503, "the node is not started") }
        let snapshot = context.membership()
        var versions: [String: [String]] = [:]
        var unreachable: [String] = []
        for m in snapshot.sortedMembers where m.status?.isDeadState != true {
            if m.isAlive {
                versions[m.schemaVersion?.description ?? "UNKNOWN", default: []].append(m.address.host)
            } else {
                unreachable.append(m.address.host)
            }
        }
        let report = DescribeClusterReport(name: context.config.clusterName, partitioner: "org.apache.cassandra.dht.Murmur3Partitioner",
                                           snitch: "basalt (data center and rack from each node's dc and rack settings)",
                                           schemaVersions: versions, unreachable: unreachable)
        return .report(report, format: request.queryValue("format")) { $0.text }
    }

    func endpoints(_ request: HTTPRequest) -> HTTPResponse {
        guard let topology = coordination.clusterTopology?.snapshot else { return .error(503, "the coordinator is not started") }
        guard let k = request.queryValue("keyspace"), let t = request.queryValue("table"), let key = request.queryValue("key") else {
            return .error(400, "getendpoints needs ?keyspace=K&table=T&key=KEY")
        }
        guard let keyspace = schema()?.keyspace(k) else { return .error(400, "keyspace \(k) does not exist") }
        guard let table = keyspace.tables[t] else { return .error(400, "table \(k).\(t) does not exist") }
        let bytes: [UInt8]
        do { bytes = try PartitionKeyText.encode(key, for: table) } catch { return .error(400, "\(error)") }
        let token = Murmur3.token(bytes)
        let replicas = topology.replicas(for: token, keyspace.params.replication)
        let report = EndpointsReport(token: token.value, replicas: replicas.map { topology.address(of: $0.identity.hostId)?.host ?? $0.identity.address.host })
        return .report(report, format: request.queryValue("format")) { $0.text }
    }

    // MARK: hints

    func pendingHints(_ request: HTTPRequest) -> HTTPResponse {
        guard let hints = coordination.hintedHandoff, let context = lock.withLock({ context }) else {
            return .error(503, "the coordinator is not started")
        }
        let members = context.membership().members.values
        let rows = hints.store.targets().map { id -> PendingHintsReport.Target in
            let m = members.first { $0.hostId == id }
            return PendingHintsReport.Target(hostId: id.description, address: m?.address.host, isAlive: m?.isAlive,
                                             bytes: hints.store.pendingBytes(for: id))
        }.filter { $0.bytes > 0 }.sorted { $0.hostId < $1.hostId }
        return .report(PendingHintsReport(targets: rows), format: request.queryValue("format")) { $0.text }
    }

    func truncateHints(_ request: HTTPRequest) -> HTTPResponse {
        guard let hints = coordination.hintedHandoff, let context = lock.withLock({ context }) else {
            return .error(503, "the coordinator is not started")
        }
        var targets = hints.store.targets()
        if let host = request.queryValue("host"), !host.isEmpty {
            let members = context.membership().members.values
            guard let id = UUIDValue(host) ?? members.first(where: { $0.address.host == host })?.hostId else {
                return .error(400, "no node \(host) (give its address or host id)")
            }
            targets = targets.filter { $0 == id }
        }
        for t in targets { hints.store.deleteAll(for: t) }
        context.logger.notice("hints truncated", metadata: ["targets": "\(targets.count)"])
        return HTTPResponse(status: 200, text: "deleted the hints for \(targets.count) node(s)\n")
    }
}

/// This process's resident memory, from `/proc/self/statm` (0 where that does not exist).
enum ProcessMemory {
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
