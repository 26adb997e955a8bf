import BasaltCore
import BasaltProtocol

/// Where a paged SELECT stopped, handed to the client as an opaque paging state and validated
/// when it comes back.
///
/// Layout: `01` (version), u8 kind (0 partition list, 1 token-range scan, 2 index query), varuint partition
/// index (list), i64 token + varbytes key (the partition of the last row returned; empty when
/// none), u8 has-clustering + varuint n, n × varbytes (that row's clustering), varint rows
/// already returned from that partition, varint remaining LIMIT (-1 none), then CRC32C (LE) of
/// everything before. Anything else — truncated, extended, bit-flipped — is rejected.
public struct PagingState: Hashable, Sendable {
    public enum Kind: UInt8, Sendable {
        case partitions = 0, scan = 1
        /// A storage-attached index query (ring order, like a scan).
        case index = 2
    }

    public var kind: Kind
    /// Index into the query's partition keys of the partition to continue in (list kind).
    public var partitionIndex: Int
    public var token: Token
    /// The partition of the last row returned.
    public var partitionKey: [UInt8]
    /// The clustering of the last row returned; nil when the partition was finished.
    public var clustering: [[UInt8]]?
    /// Rows returned so far from `partitionKey` (for PER PARTITION LIMIT).
    public var rowsInPartition: Int
    /// What is left of the query's LIMIT; nil when it has none.
    public var remaining: Int?

    public init(kind: Kind, partitionIndex: Int = 0, token: Token = .min, partitionKey: [UInt8] = [], clustering: [[UInt8]]? = nil,
                rowsInPartition: Int = 0, remaining: Int? = nil) {
        self.kind = kind
        self.partitionIndex = partitionIndex
        self.token = token
        self.partitionKey = partitionKey
        self.clustering = clustering
        self.rowsInPartition = rowsInPartition
        self.remaining = remaining
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 32 + partitionKey.count + (clustering?.reduce(0) { $0 + $1.count + 2 } ?? 0))
        w.writeUInt8(1)
        w.writeUInt8(kind.rawValue)
        w.writeVarUInt(UInt64(partitionIndex))
        w.writeInt64(token.value)
        w.writeVarBytes(partitionKey)
        if let clustering {
            w.writeUInt8(1)
            w.writeVarUInt(UInt64(clustering.count))
            for c in clustering { w.writeVarBytes(c) }
        } else {
            w.writeUInt8(0)
        }
        w.writeVarInt(Int64(rowsInPartition))
        w.writeVarInt(Int64(remaining ?? -1))
        w.writeUInt32LE(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// Decodes a paging state a client sent back; garbage is a protocol error, never a trap.
    public static func decode(_ bytes: [UInt8]) throws(CQLError) -> PagingState {
        do { return try decodeChecked(bytes) } catch {
            throw .protocolError("Invalid paging state: \(error.description)")
        }
    }

    static func decodeChecked(_ bytes: [UInt8]) throws(DecodeError) -> PagingState {
        guard bytes.count >= 5 else { throw DecodeError.truncated(needed: 5, available: bytes.count, at: 0) }
        var crcReader = ByteReader(bytes, from: bytes.count - 4)
        let crc = try crcReader.readUInt32LE()
        guard CRC32C.checksum(bytes[0 ..< bytes.count - 4]) == crc else { throw DecodeError.invalid("checksum mismatch", at: bytes.count - 4) }
        var r = ByteReader(bytes, from: 0, to: bytes.count - 4)
        let version = try r.readUInt8()
        guard version == 1 else { throw DecodeError.invalid("unknown version \(version)", at: 0) }
        let rawKind = try r.readUInt8()
        guard let kind = Kind(rawValue: rawKind) else { throw DecodeError.invalid("unknown kind \(rawKind)", at: 1) }
        let indexAt = r.position
        let index = try r.readVarUInt()
        guard index < 1 << 31 else { throw DecodeError.invalid("partition index out of range", at: indexAt) }
        var s = PagingState(kind: kind, partitionIndex: Int(index))
        s.token = Token(try r.readInt64())
        s.partitionKey = try r.readVarBytes()
        if try r.readUInt8() != 0 {
            let n = try r.readVarLength()
            var c = [[UInt8]]()
            for _ in 0 ..< n { c.append(try r.readVarBytes()) }
            s.clustering = c
        }
        let rowsAt = r.position
        let rows = try r.readVarInt()
        guard rows >= 0, rows < 1 << 40 else { throw DecodeError.invalid("bad row count", at: rowsAt) }
        s.rowsInPartition = Int(rows)
        let remAt = r.position
        let rem = try r.readVarInt()
        guard rem >= -1, rem < 1 << 40 else { throw DecodeError.invalid("bad remaining count", at: remAt) }
        s.remaining = rem < 0 ? nil : Int(rem)
        guard r.remaining == 0 else { throw DecodeError.invalid("trailing bytes", at: r.position) }
        return s
    }
}
