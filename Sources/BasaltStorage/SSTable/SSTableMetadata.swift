import BasaltCore

/// What an SSTable holds, kept in its Statistics component and in memory while it is open.
public struct SSTableStatistics: Hashable, Sendable {
    public var partitionCount = 0
    public var tombstoneCount = 0
    public var minToken = Int64.max
    public var maxToken = Int64.min
    public var minTimestamp = Int64.max
    public var maxTimestamp = Int64.min
    /// Uncompressed length of the data stream.
    public var uncompressedSize = 0
    /// Commit-log ranges whose writes this SSTable holds (replay skips them).
    public var commitLogIntervals: [CommitLogInterval] = []
    /// Wall-clock second the SSTable was written.
    public var createdAt: Int64 = 0
    /// Compaction generation depth: 0 for a flush, inputs' maximum + 1 for a compaction.
    public var level = 0

    public init() {}

    mutating func see(timestampRange r: (min: Int64, max: Int64)?) {
        guard let r else { return }
        minTimestamp = min(minTimestamp, r.min)
        maxTimestamp = max(maxTimestamp, r.max)
    }

    /// Layout: magic "BSST", version 1, the fields in declaration order (var-ints), intervals as
    /// count + (segment, offset, segment, offset), then CRC32C (LE) of everything before it.
    func serialized() -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.writeBytes(Array("BSST".utf8))
        w.writeUInt8(1)
        for v in [Int64(partitionCount), Int64(tombstoneCount), minToken, maxToken, minTimestamp, maxTimestamp, Int64(uncompressedSize), createdAt, Int64(level)] {
            w.writeVarInt(v)
        }
        w.writeVarUInt(UInt64(commitLogIntervals.count))
        for i in commitLogIntervals {
            w.writeVarUInt(i.lower.segment); w.writeVarUInt(UInt64(i.lower.offset))
            w.writeVarUInt(i.upper.segment); w.writeVarUInt(UInt64(i.upper.offset))
        }
        w.writeUInt32LE(Checksum.crc32c(w.bytes))
        return w.bytes
    }

    static func deserialize(_ bytes: [UInt8], path: String) throws -> SSTableStatistics {
        try SSTableMetadata.checked(bytes, magic: "BSST", path: path) { r throws(DecodeError) in
            var s = SSTableStatistics()
            s.partitionCount = Int(try r.readVarInt())
            s.tombstoneCount = Int(try r.readVarInt())
            s.minToken = try r.readVarInt()
            s.maxToken = try r.readVarInt()
            s.minTimestamp = try r.readVarInt()
            s.maxTimestamp = try r.readVarInt()
            s.uncompressedSize = Int(try r.readVarInt())
            s.createdAt = try r.readVarInt()
            s.level = Int(try r.readVarInt())
            let n = try StorageCodec.readCount(&r)
            for _ in 0 ..< n {
                let ls = try r.readVarUInt(), lo = try r.readVarUInt(), us = try r.readVarUInt(), uo = try r.readVarUInt()
                guard lo <= UInt64(UInt32.max), uo <= UInt64(UInt32.max) else { throw DecodeError.invalid("commit-log offset out of range", at: r.position) }
                s.commitLogIntervals.append(CommitLogInterval(lower: CommitLogPosition(segment: ls, offset: UInt32(lo)), upper: CommitLogPosition(segment: us, offset: UInt32(uo))))
            }
            return s
        }
    }
}

/// Where the data file's chunks are: chunk length, whether chunks are Snappy-compressed, the
/// uncompressed length, and each chunk's file offset.
struct CompressionInfo: Sendable {
    var chunkLength: Int
    var compressed: Bool
    var dataLength: Int
    var offsets: [UInt64]

    /// Layout: magic "BSCI", version 1, compressed (u8), chunk length (u32 BE), data length (u64 BE),
    /// chunk count (u64 BE), offsets (u64 BE each), CRC32C (LE). This is everything before the offsets.
    static func header(compressed: Bool, chunkLength: Int, dataLength: Int, chunks: Int) -> [UInt8] {
        var w = ByteWriter(capacity: 32)
        w.writeBytes(Array("BSCI".utf8))
        w.writeUInt8(1)
        w.writeBool(compressed)
        w.writeUInt32(UInt32(chunkLength))
        w.writeUInt64(UInt64(dataLength))
        w.writeUInt64(UInt64(chunks))
        return w.bytes
    }

    static func deserialize(_ bytes: [UInt8], path: String) throws -> CompressionInfo {
        try SSTableMetadata.checked(bytes, magic: "BSCI", path: path) { r throws(DecodeError) in
            let compressed = try r.readBool()
            let chunk = Int(try r.readUInt32())
            let len = try r.readUInt64()
            let n = try r.readUInt64()
            guard chunk >= 1024, chunk <= 1 << 24, n == UInt64(r.remaining / 8), r.remaining % 8 == 0,
                  len <= n * UInt64(chunk), len > (n == 0 ? 0 : (n - 1) * UInt64(chunk)) || (n == 0 && len == 0)
            else { throw DecodeError.invalid("compression info inconsistent (chunk \(chunk), length \(len), \(n) chunks)", at: 5) }
            var offs: [UInt64] = []
            offs.reserveCapacity(Int(n))
            for _ in 0 ..< n {
                let at = r.position
                let o = try r.readUInt64()
                guard o < 1 << 48, o >= (offs.last.map { $0 + 4 } ?? 0) else { throw DecodeError.invalid("chunk offset \(o) out of order or out of range", at: at) }
                offs.append(o)
            }
            return CompressionInfo(chunkLength: chunk, compressed: compressed, dataLength: Int(len), offsets: offs)
        }
    }
}

/// The sampled summary of the partition index: every `interval`-th index entry (token, key, index
/// file offset), held in memory to find where in the index to look. The keys lie end to end in one
/// array (an array per key cost about 50 bytes more per entry: 15 MB at 5 M partitions).
struct IndexSummary: Sendable {
    var interval: Int
    var tokens: [Int64] = []
    /// Entry i's key is `keyBytes[keyStarts[i] ..< keyStarts[i + 1]]`.
    private(set) var keyBytes: [UInt8] = []
    private(set) var keyStarts: [UInt32] = [0]
    var offsets: [Int] = []

    init(interval: Int) { self.interval = interval }

    var count: Int { tokens.count }

    mutating func append(token: Int64, key: UnsafeRawBufferPointer, offset: Int) {
        tokens.append(token)
        keyBytes.append(contentsOf: key)
        keyStarts.append(UInt32(keyBytes.count))
        offsets.append(offset)
    }

    /// Entry i's key, for the duration of `body`.
    func withKey<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        keyBytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[Int(keyStarts[i]) ..< Int(keyStarts[i + 1])])) }
    }

    /// Layout: magic "BSSM", version 1, interval (var-uint), count (var-uint), entries (see
    /// ``writeEntry(_:token:key:offset:)``), CRC32C (LE). This is everything before the entries.
    static func header(interval: Int, count: Int) -> [UInt8] {
        var w = ByteWriter(capacity: 24)
        w.writeBytes(Array("BSSM".utf8))
        w.writeUInt8(1)
        w.writeVarUInt(UInt64(interval))
        w.writeVarUInt(UInt64(count))
        return w.bytes
    }

    /// An entry: token (i64 BE), key (var-bytes), index offset (var-uint).
    static func writeEntry(_ w: inout ByteWriter, token: Int64, key: UnsafeRawBufferPointer, offset: Int) {
        w.writeInt64(token)
        w.writeVarBytes(key)
        w.writeVarUInt(UInt64(offset))
    }

    static func deserialize(_ bytes: [UInt8], path: String) throws -> IndexSummary {
        try SSTableMetadata.checked(bytes, magic: "BSSM", path: path) { r throws(DecodeError) in
            let interval = try r.readVarUInt()
            guard interval >= 1, interval <= 1 << 20 else { throw DecodeError.invalid("summary interval \(interval)", at: 5) }
            var s = IndexSummary(interval: Int(interval))
            let n = try StorageCodec.readCount(&r)
            s.tokens.reserveCapacity(n); s.keyStarts.reserveCapacity(n + 1); s.offsets.reserveCapacity(n)
            for _ in 0 ..< n {
                let token = try r.readInt64()
                let key = try r.readVarBytes()
                let o = try r.readVarUInt()
                guard o <= UInt64(Int32.max) * 64 else { throw DecodeError.invalid("summary offset \(o)", at: r.position) }
                key.withUnsafeBytes { s.append(token: token, key: $0, offset: Int(o)) }
            }
            return s
        }
    }
}

/// The framing every checked component shares: magic (4 bytes), version 1, the body, then the
/// CRC32C (LE) of everything before it.
enum SSTableMetadata {
    /// Verifies the trailing CRC and magic + version 1 of a small component, then decodes its body.
    static func checked<T>(_ bytes: [UInt8], magic: String, path: String, _ body: (inout ByteReader) throws(DecodeError) -> T) throws -> T {
        guard bytes.count >= 9 else { throw StorageError.corrupt(path: path, offset: 0, reason: "file too short (\(bytes.count) bytes)") }
        let end = bytes.count - 4
        try bytes.withUnsafeBytes { all in
            try checkCRC(stored: UInt32(littleEndian: all.loadUnaligned(fromByteOffset: end, as: UInt32.self)),
                         computed: Checksum.crc32c(UnsafeRawBufferPointer(rebasing: all[0 ..< end])), path: path, at: end)
            try checkMagic(all, magic: magic, path: path)
        }
        var r = ByteReader(bytes, from: 5, to: end)
        do throws(DecodeError) {
            let v = try body(&r)
            if !r.isAtEnd { throw DecodeError.invalid("\(r.remaining) unexpected trailing bytes", at: r.position) }
            return v
        } catch {
            throw StorageError.corrupt(path: path, offset: error.offset, reason: error.description)
        }
    }

    /// Checks the magic and version 1 at the front of a component (`front` holds at least 5 bytes).
    static func checkMagic(_ front: UnsafeRawBufferPointer, magic: String, path: String) throws {
        if !front.prefix(4).elementsEqual(magic.utf8) { throw StorageError.corrupt(path: path, offset: 0, reason: "bad magic, expected \(magic)") }
        if front[4] != 1 { throw StorageError.corrupt(path: path, offset: 4, reason: "unsupported version \(front[4])") }
    }

    /// Compares a component's stored CRC (its trailer, at offset `at`) with the computed one.
    static func checkCRC(stored: UInt32, computed: UInt32, path: String, at: Int) throws {
        if stored != computed { throw StorageError.corrupt(path: path, offset: at, reason: "checksum mismatch (stored \(stored), computed \(computed))") }
    }

    /// The CRC a component file stores in its last four bytes.
    static func storedCRC(_ file: ReadOnlyFile) throws -> UInt32 {
        var stored: UInt32 = 0
        try withUnsafeMutableBytes(of: &stored) { try file.read(at: file.size - 4, 4, into: $0) }
        return UInt32(littleEndian: stored)
    }
}

extension DecodeError {
    /// The offset the error names.
    var offset: Int {
        switch self {
        case let .truncated(_, _, at): at
        case let .invalid(_, at): at
        }
    }
}
