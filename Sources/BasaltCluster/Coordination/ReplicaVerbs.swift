import BasaltCore
import BasaltNet
import BasaltStorage

/// The internode verbs of coordination and their payloads (all versioned; decoding never traps):
///
/// | verb | request | response |
/// | --- | --- | --- |
/// | `mutation` (10) | `Mutation` encoding | empty |
/// | `read` (11) | `01`, kind (0 data, 1 digest), `ReadCommand` encoding | `PartitionResult` encoding, or the 16-byte digest |
/// | `scan` (12) | `TokenScanCommand` encoding | `ScanResult` encoding |
/// | `read.repair` (13) | `Mutation` encoding | empty |
/// | `hint` (14) | `Mutation` encoding | empty |
/// | `batchlog.store` (15) | ``BatchlogEntry`` encoding | empty |
/// | `batchlog.remove` (16) | `01`, batch id (16 bytes) | empty |
/// | `vector.nearest` (17) | ``NearestRowsCommand`` encoding | ``NearestRow`` list encoding |
/// | `index.rows` (18) | ``IndexedRowsCommand`` encoding | ``IndexedRowsPage`` encoding |
///
/// A replica that cannot serve a request (unknown table, storage overloaded, malformed payload)
/// answers with a failure naming why.
public enum ReplicaVerbs {
    public static let mutation = Verb(10, "mutation")
    public static let read = Verb(11, "read")
    public static let scan = Verb(12, "scan")
    public static let readRepair = Verb(13, "read.repair")
    public static let hint = Verb(14, "hint")
    public static let batchlogStore = Verb(15, "batchlog.store")
    public static let batchlogRemove = Verb(16, "batchlog.remove")
    public static let nearestRows = Verb(17, "vector.nearest")
    public static let indexedRows = Verb(18, "index.rows")

    /// The payload of a `read` request.
    public static func readPayload(_ command: ReadCommand, digest: Bool) -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        w.writeUInt8(1)
        w.writeUInt8(digest ? 1 : 0)
        w.writeBytes(command.encoded())
        return w.bytes
    }

    public static func decodeReadPayload(_ bytes: [UInt8]) throws(DecodeError) -> (ReadCommand, digest: Bool) {
        guard bytes.count >= 2 else { throw .truncated(needed: 2, available: bytes.count, at: 0) }
        guard bytes[0] == 1 else { throw .invalid("unknown read request version \(bytes[0])", at: 0) }
        guard bytes[1] <= 1 else { throw .invalid("unknown read kind \(bytes[1])", at: 1) }
        return (try ReadCommand.decode(Array(bytes[2...])), bytes[1] == 1)
    }

    public static func decodeDigest(_ bytes: [UInt8]) throws(DecodeError) -> ResultDigest {
        guard bytes.count == 16 else { throw .invalid("digest of \(bytes.count) bytes, expected 16", at: 0) }
        var r = ByteReader(bytes)
        return ResultDigest((try r.readUInt64(), try r.readUInt64()))
    }
}
