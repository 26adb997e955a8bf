import BasaltCluster
import BasaltCore
import BasaltStorage

/// A ``RequestCoordinator`` for a cluster of one node: every replica is this node's
/// ``StorageEngine``. It is honest about consistency: a level that needs more replicas than the
/// one alive here (ALL or QUORUM with replication factor 3, TWO, …) answers Unavailable exactly
/// as a Cassandra node alone in its ring would, and nothing is written.
public struct LocalRequestCoordinator: RequestCoordinator {
    public let engine: StorageEngine
    public let schema: any SchemaSource
    /// This node's data center (for LOCAL_* and EACH_QUORUM levels).
    public let dataCenter: String

    public init(engine: StorageEngine, schema: any SchemaSource, dataCenter: String = "datacenter1") {
        self.engine = engine
        vectorSearch = engine.attachedIndexes as? any LocalVectorSearch
        indexQuery = engine.attachedIndexes as? any LocalIndexQuery
        self.schema = schema
        self.dataCenter = dataCenter
    }

    public func write(_ mutations: [Mutation], consistency: ConsistencyLevel, writeType: WriteType) async throws(CoordinatorError) {
        for m in mutations { try check(keyspace: m.keyspace, consistency, isWrite: true) }
        for m in mutations {
            do { try await engine.apply(m) } catch let e as StorageError {
                if case .overloaded = e { throw .overloaded("Storage engine overloaded: \(e)") }
                // Refused before anything was written, as the cluster coordinator refuses it.
                if e.failureCause == .mutationTooLarge { throw .invalid("\(e)") }
                throw .writeFailure(consistency: consistency, received: 0, blockFor: 1, failures: 1, writeType: writeType, reason: "\(e)")
            } catch {
                throw .writeFailure(consistency: consistency, received: 0, blockFor: 1, failures: 1, writeType: writeType)
            }
        }
    }

    public func read(_ command: ReadCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> PartitionResult {
        try check(keyspace: command.keyspace, consistency, isWrite: false)
        do { return try engine.read(command) } catch {
            throw .readFailure(consistency: consistency, received: 0, blockFor: 1, failures: 1, dataPresent: false)
        }
    }

    /// This node's vector indexes (the engine's attached index registry).
    let vectorSearch: (any LocalVectorSearch)?

    public func nearestRows(_ command: NearestRowsCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> [NearestRow] {
        try check(keyspace: command.keyspace, consistency, isWrite: false)
        guard let vectorSearch else { throw .invalid("no vector indexes on this node") }
        // This node is the only replica: its version of a row is the row at any level.
        do { return try command.withContent(try vectorSearch.nearestRows(command), from: engine) } catch {
            throw .invalid("\(error)")
        }
    }

    /// This node's term indexes (the engine's attached index registry).
    let indexQuery: (any LocalIndexQuery)?

    public func indexedRows(_ command: IndexedRowsCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> IndexedRowsPage {
        try check(keyspace: command.keyspace, consistency, isWrite: false)
        guard let indexQuery else { throw .invalid("no storage-attached indexes on this node") }
        do { return try indexQuery.indexedRows(command) } catch {
            throw .invalid("\(error)")
        }
    }

    public func scan(_ command: TokenScanCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> ScanResult {
        try check(keyspace: command.keyspace, consistency, isWrite: false)
        do { return try engine.scan(command) } catch {
            throw .readFailure(consistency: consistency, received: 0, blockFor: 1, failures: 1, dataPresent: false)
        }
    }

    /// Throws Unavailable when `consistency` needs more replicas than the single live one.
    func check(keyspace: String, _ consistency: ConsistencyLevel, isWrite: Bool) throws(CoordinatorError) {
        guard let ks = schema.keyspace(named: keyspace) else { throw .invalid("Keyspace '\(keyspace)' does not exist") }
        if consistency.isSerial { throw .invalid("SERIAL and LOCAL_SERIAL consistency are only for lightweight transactions") }
        if consistency == .any && !isWrite { throw .invalid("ANY ConsistencyLevel is only supported for writes") }
        let required = ConsistencyRequirement(consistency, replication: ks.replication, localDataCenter: dataCenter).blockFor
        // Replicas in this node's data center: this node holds one of them when the factor there is ≥ 1.
        let alive: Int
        switch ks.replication {
        case .local: alive = 1
        case let .simple(rf): alive = rf > 0 ? 1 : 0
        case let .networkTopology(dcs): alive = (dcs[dataCenter] ?? 0) > 0 ? 1 : 0
        }
        if required > alive { throw .unavailable(consistency: consistency, required: required, alive: alive) }
    }
}
