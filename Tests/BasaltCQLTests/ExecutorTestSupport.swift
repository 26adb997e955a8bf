import BasaltCluster
import BasaltCore
import BasaltIndex
@testable import BasaltProtocol
import BasaltStorage
import Foundation
import Logging
import Testing
@testable import BasaltCQL
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp, removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init(_ prefix: String = "basalt-cql-test") {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

extension Logger {
    static let quiet: Logger = {
        var l = Logger(label: "basalt.cql.test")
        l.logLevel = .critical
        return l
    }()
}

/// One node's CQL executor over a real storage engine in a temporary directory, with a
/// single-node coordinator: what the server runs, without sockets.
final class SingleNodeExecutor: @unchecked Sendable {
    let dir: ScratchDirectory
    let engine: StorageEngine
    /// The node's storage-attached indexes (as a server node has them).
    let indexes = AttachedIndexRegistry(logger: .quiet)
    let holder: SchemaHolder
    let processor: QueryProcessor
    let session = ClientSession()
    let clock: ManualClock
    let auth: AuthService?

    init(clock: ManualClock = ManualClock(wallMicros: 1_700_000_000_000_000), settings: QueryProcessor.Settings = .init(),
         auth authSettings: AuthService.Settings? = nil) throws {
        self.clock = clock
        dir = ScratchDirectory()
        engine = try StorageEngine(directory: dir.path + "/data", clock: clock, logger: .quiet, attachedIndexes: indexes)
        holder = try SchemaHolder(directory: dir.path, engine: engine, logger: .quiet)
        indexes.attach(engine)
        let hostId = UUIDValue(msb: 7, lsb: 7)
        let info = NodeInfo(hostId: hostId, address: "127.0.0.1", nativeAddress: "127.0.0.1", tokens: [Token(0)])
        let timestamps = TimestampGenerator(clock: clock)
        let auth = authSettings.map { AuthService(settings: $0, hasher: PasswordHasher(threads: 1), clock: clock, sleep: { _ in }, logger: .quiet) }
        self.auth = auth
        processor = QueryProcessor(schema: holder, coordinator: LocalRequestCoordinator(engine: engine, schema: holder),
                                   distributor: LocalSchemaDistributor(holder: holder, hostId: hostId, timestamps: timestamps),
                                   cluster: SingleNodeClusterInfo(clusterName: "Test Cluster", node: info), clock: clock,
                                   timestamps: timestamps, settings: settings, auth: auth, logger: .quiet)
        auth?.attach(processor)
    }

    /// Waits (up to 30 s) until no index of the keyspace `ks` is still being built.
    func waitForIndexes() throws {
        for _ in 0 ..< 3000 {
            let building = holder.schema.keyspace("ks").map { k in
                k.indexes.values.contains { i in
                    k.tables[i.table].map { indexes.status(table: $0.id, index: i.name) == .building } ?? false
                }
            } ?? false
            if !building { return }
            usleep(10_000)
        }
        throw CQLError.serverError("indexes still building")
    }

    func close() {
        auth?.stop()
        engine.close(flush: false)
        dir.remove()
    }

    @discardableResult
    func run(_ cql: String, _ values: [ProtocolValue] = [], consistency: ConsistencyLevel = .one, pageSize: Int32? = nil,
             pagingState: [UInt8]? = nil, as session: ClientSession? = nil) async throws -> ResultBody {
        let params = QueryParameters(consistency: consistency, values: values, pageSize: pageSize, pagingState: pagingState)
        switch await processor.process(.query(cql, params), session: session ?? self.session) {
        case let .result(r): return r
        case let .error(e): throw e
        default: throw CQLError.serverError("unexpected response")
        }
    }

    /// Rows of a SELECT, each column decoded with its type.
    func rows(_ cql: String, _ values: [ProtocolValue] = [], consistency: ConsistencyLevel = .one, as session: ClientSession? = nil) async throws -> [[CQLValue?]] {
        guard case let .rows(r) = try await run(cql, values, consistency: consistency, as: session) else { return [] }
        return Self.decode(r)
    }

    static func decode(_ r: RowsResult) -> [[CQLValue?]] {
        r.rows.map { row in
            zip(row, r.metadata.columns).map { v, spec in v.flatMap { try? spec.type.decode($0) } }
        }
    }
}

extension ProtocolValue {
    static func int(_ v: Int32) -> ProtocolValue { .bytes((try? CQLType.int.encode(.int(v))) ?? []) }
    static func text(_ s: String) -> ProtocolValue { .bytes(Array(s.utf8)) }
}
