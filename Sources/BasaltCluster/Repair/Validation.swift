import BasaltCore
import BasaltNet
import BasaltStorage
import Foundation
import Logging

/// The internode verb of repair's validation phase:
///
/// | verb | request | response |
/// | --- | --- | --- |
/// | `repair.validate` (60) | ``ValidationRequest`` encoding | ``MerkleTree`` encoding |
///
/// Code 61–69 are kept for repair's later verbs.
public enum RepairVerbs {
    public static let validate = Verb(60, "repair.validate", lane: .large)
}

/// Asks a replica for its Merkle tree of one table over one token range.
public struct ValidationRequest: Hashable, Sendable {
    public var keyspace: String
    public var table: String
    public var tableId: UUIDValue
    public var range: TokenRange
    public var depth: Int

    public init(keyspace: String, table: String, tableId: UUIDValue, range: TokenRange, depth: Int) {
        self.keyspace = keyspace
        self.table = table
        self.tableId = tableId
        self.range = range
        self.depth = depth
    }

    /// `01`, keyspace and table (var-strings), table id (16 bytes), range start and end (i64), depth (u8).
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        w.writeUInt8(1)
        w.writeVarString(keyspace)
        w.writeVarString(table)
        w.writeUInt64(tableId.msb)
        w.writeUInt64(tableId.lsb)
        w.writeInt64(range.start.value)
        w.writeInt64(range.end.value)
        w.writeUInt8(UInt8(clamping: depth))
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> ValidationRequest {
        var r = ByteReader(bytes)
        guard try r.readUInt8() == 1 else { throw .invalid("unknown validation request version", at: 0) }
        let ks = try r.readVarString()
        let t = try r.readVarString()
        let id = UUIDValue(msb: try r.readUInt64(), lsb: try r.readUInt64())
        let range = TokenRange(start: Token(try r.readInt64()), end: Token(try r.readInt64()))
        let depth = Int(try r.readUInt8())
        guard r.isAtEnd else { throw .invalid("trailing bytes after validation request", at: r.position) }
        return ValidationRequest(keyspace: ks, table: t, tableId: id, range: range, depth: depth)
    }
}

extension MerkleTree {
    /// The tree of a table's data in a range on this node: every partition from memtables and
    /// SSTables merged (``StorageEngine/forEachPartition(tableId:range:batch:_:)``), hashed with
    /// its timestamps and tombstones.
    ///
    /// A damaged SSTable met while reading is quarantined whole, taking with it rows of partitions
    /// already hashed: a tree built across a quarantine would match the other replicas where this
    /// node has just lost data, and repair would leave it lost. So the tree is built again, from
    /// what is left, until no SSTable was quarantined meanwhile (each pass removes at least one).
    public static func build(engine: StorageEngine, request: ValidationRequest) throws -> MerkleTree {
        let cmp = ClusteringComparator(try engine.schema(of: request.tableId))
        while true {
            let quarantined = try engine.quarantineReports(tableId: request.tableId).count
            var tree = MerkleTree(range: request.range, depth: request.depth)
            try engine.forEachPartition(tableId: request.tableId, range: request.range) { p in
                tree.add(token: p.token, digest: p.digest(cmp))
            }
            if try engine.quarantineReports(tableId: request.tableId).count == quarantined { return tree }
        }
    }
}

/// Serves `repair.validate` on this node's storage engine. A tree is built on a thread of its own
/// (it reads the whole range), at most `concurrency` at once; the others wait their turn.
public final class ValidationService: Sendable {
    private let engine: @Sendable () -> StorageEngine
    private let logger: Logger
    private let slots: DispatchSemaphore

    public init(engine: @escaping @Sendable () -> StorageEngine, concurrency: Int = 1, logger: Logger) {
        self.engine = engine
        self.logger = logger
        slots = DispatchSemaphore(value: max(1, concurrency))
    }

    public func register(on messaging: MessagingService) {
        messaging.register(RepairVerbs.validate) { [self] message, reply in
            Thread.detachNewThread { [self] in
                slots.wait()
                defer { slots.signal() }
                do {
                    let request = try ValidationRequest.decode(message.payload)
                    let tree = try MerkleTree.build(engine: engine(), request: request)
                    logger.debug("validated", metadata: ["table": "\(request.keyspace).\(request.table)", "range": "\(request.range)",
                                                         "partitions": "\(tree.partitions)", "peer": "\(message.peer)"])
                    reply.reply(tree.encoded())
                } catch {
                    reply.fail("validation failed: \(error)")
                }
            }
        }
    }
}
