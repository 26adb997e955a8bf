import BasaltCore
import BasaltStorage

/// Why a coordinated request failed, in the terms clients see: each case maps to one CQL error
/// (Unavailable 0x1000, WriteTimeout 0x1100, ReadTimeout 0x1200, ReadFailure 0x1300,
/// WriteFailure 0x1500, Overloaded 0x1001, Invalid 0x2200).
public enum CoordinatorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Too few replicas were known alive to try: nothing was sent.
    case unavailable(consistency: ConsistencyLevel, required: Int, alive: Int)
    /// Fewer than `blockFor` replicas acknowledged before the write timeout. The write may still
    /// have been applied on some replicas (and hinted for the others).
    case writeTimeout(consistency: ConsistencyLevel, received: Int, blockFor: Int, writeType: WriteType)
    /// Fewer than `blockFor` replicas answered before the read timeout; `dataPresent` says whether
    /// the replica asked for data was among those that answered.
    case readTimeout(consistency: ConsistencyLevel, received: Int, blockFor: Int, dataPresent: Bool)
    /// Replicas answered with errors so that the level can no longer be met; `reason` is the first
    /// replica's own account (e.g. its commit log cannot be written), empty when none was given;
    /// `failedAt` the replicas that failed, where they are known (protocol v5's reason map).
    case writeFailure(consistency: ConsistencyLevel, received: Int, blockFor: Int, failures: Int, writeType: WriteType, reason: String = "",
                      failedAt: [FailedReplica] = [])
    case readFailure(consistency: ConsistencyLevel, received: Int, blockFor: Int, failures: Int, dataPresent: Bool, failedAt: [FailedReplica] = [])
    /// The coordinator or a replica is past one of its bounds (in-flight requests, hint backlog).
    case overloaded(String)
    /// The request cannot be coordinated as asked (unknown keyspace or table, a level that does
    /// not apply, such as SERIAL outside a lightweight transaction).
    case invalid(String)

    public var description: String {
        switch self {
        case let .unavailable(cl, required, alive):
            "Cannot achieve consistency level \(cl): \(required) replicas required, \(alive) alive"
        case let .writeTimeout(cl, received, blockFor, writeType):
            "Operation timed out - received only \(received) responses of \(blockFor) required (\(cl), \(writeType.rawValue) write)"
        case let .readTimeout(cl, received, blockFor, dataPresent):
            "Operation timed out - received only \(received) responses of \(blockFor) required (\(cl), data \(dataPresent ? "" : "not ")present)"
        case let .writeFailure(cl, received, blockFor, failures, writeType, reason, _):
            "Operation failed - received \(received) responses and \(failures) failures of \(blockFor) required (\(cl), \(writeType.rawValue) write)"
                + (reason.isEmpty ? "" : ": \(reason)")
        case let .readFailure(cl, received, blockFor, failures, _, _):
            "Operation failed - received \(received) responses and \(failures) failures of \(blockFor) required (\(cl))"
        case let .overloaded(why): why
        case let .invalid(why): why
        }
    }
}

/// A replica that answered a request with an error: its address and the failure code protocol v5
/// sends for it in ReadFailure and WriteFailure (0x0000, unknown reason, is the only one Basalt
/// tells apart today; 0x0001 too many tombstones, 0x0002 index not available).
public struct FailedReplica: Hashable, Sendable, CustomStringConvertible {
    public var address: NodeAddress
    public var code: UInt16

    public init(_ address: NodeAddress, code: UInt16 = 0) {
        self.address = address
        self.code = code
    }

    public var description: String { "\(address.host): 0x\(String(code, radix: 16))" }
}

/// The coordinator as the layers above it (the CQL executor) use it. Any node coordinates any
/// request: it finds the replicas from the ring and the keyspace's replication strategy, sends to
/// them over internode messaging, and answers once the consistency level is met.
///
/// - Writes go to every live replica; replicas that are down or time out get hints. A `.batch`
///   write type is a logged batch: the mutations are first stored in the batch log of other nodes
///   so that either all of them are eventually applied or none.
/// - Reads ask one replica for data and as many others as the level needs for digests; on a
///   mismatch the coordinator reads data from all of them, reconciles, and repairs stale replicas
///   before answering (monotonic quorum reads).
/// - Scans read one token range in token order, a page at a time.
public protocol RequestCoordinator: Sendable {
    func write(_ mutations: [Mutation], consistency: ConsistencyLevel, writeType: WriteType) async throws(CoordinatorError)
    func read(_ command: ReadCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> PartitionResult
    func scan(_ command: TokenScanCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> ScanResult
    /// Candidate rows for `ORDER BY v ANN OF …`: each replica's nearest rows by its vector index,
    /// merged (see ``ClusterCoordinator/nearestRows(_:consistency:)``).
    func nearestRows(_ command: NearestRowsCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> [NearestRow]
    /// A page of the keys of rows matching a query's index restrictions (see
    /// ``ClusterCoordinator/indexedRows(_:consistency:)``).
    func indexedRows(_ command: IndexedRowsCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> IndexedRowsPage
}

extension RequestCoordinator {
    public func nearestRows(_ command: NearestRowsCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> [NearestRow] {
        throw .invalid("Table \(command.keyspace).\(command.table) has no vector index to order by")
    }

    public func indexedRows(_ command: IndexedRowsCommand, consistency: ConsistencyLevel) async throws(CoordinatorError) -> IndexedRowsPage {
        throw .invalid("Table \(command.keyspace).\(command.table) has no storage-attached index")
    }
}

/// Where the coordinator learns the schema it needs (replication of keyspaces, the definition of
/// tables); the node's schema holder implements it. Reads of it must be cheap and thread-safe.
public protocol SchemaSource: Sendable {
    func keyspace(named name: String) -> KeyspaceSchema?
    func table(keyspace: String, name: String) -> TableSchema?
    func table(id: UUIDValue) -> TableSchema?
}
