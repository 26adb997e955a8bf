import BasaltCore

/// A node as the ring sees it: identity, location (data center and rack) and its vnode tokens.
///
/// `tokens` is kept sorted and free of duplicates. The serialized form (``serialized()``) is what a
/// node persists to keep its host id and tokens across restarts.
public struct RingMember: Hashable, Sendable, CustomStringConvertible {
    public var identity: NodeIdentity
    public var dataCenter: String
    public var rack: String
    public private(set) var tokens: [Token]

    public init(identity: NodeIdentity, dataCenter: String, rack: String, tokens: [Token]) {
        self.identity = identity
        self.dataCenter = dataCenter
        self.rack = rack
        self.tokens = Array(Set(tokens)).sorted()
    }

    public mutating func setTokens(_ tokens: [Token]) {
        self.tokens = Array(Set(tokens)).sorted()
    }

    public var description: String { "\(identity) \(dataCenter)/\(rack) \(tokens.count) tokens" }

    /// Format version of ``serialized()``.
    public static let formatVersion: UInt8 = 1
    /// Bounds on what ``init(serialized:)`` accepts.
    public static let maxTokens = 65_536
    public static let maxLocationBytes = 1024

    /// `version(1) identity dc rack count(var) tokens(8 each, big-endian) crc32c(4)`, the CRC covering
    /// every byte before it.
    public func serialized() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + tokens.count * 8)
        w.writeUInt8(Self.formatVersion)
        identity.encode(into: &w)
        w.writeVarString(dataCenter)
        w.writeVarString(rack)
        w.writeVarUInt(UInt64(tokens.count))
        for t in tokens { w.writeInt64(t.value) }
        w.writeUInt32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// Reads ``serialized()`` output; a wrong checksum, version or bound is a `DecodeError` with the
    /// offset at fault.
    public init(serialized bytes: [UInt8]) throws(DecodeError) {
        guard bytes.count >= 5 else {
            throw DecodeError.truncated(needed: 5, available: bytes.count, at: 0)
        }
        let bodyEnd = bytes.count - 4
        var crcReader = ByteReader(bytes, from: bodyEnd)
        let stored = try crcReader.readUInt32()
        let actual = CRC32C.checksum(bytes[0 ..< bodyEnd])
        guard stored == actual else {
            throw DecodeError.invalid("ring member checksum mismatch (stored \(stored), computed \(actual))", at: bodyEnd)
        }
        var r = ByteReader(bytes, to: bodyEnd)
        let version = try r.readUInt8()
        guard version == Self.formatVersion else {
            throw DecodeError.invalid("unsupported ring member format version \(version)", at: 0)
        }
        let identity = try NodeIdentity.decode(from: &r)
        let dc = try Self.readBoundedString(&r)
        let rack = try Self.readBoundedString(&r)
        let countAt = r.position
        let count = try r.readVarUInt()
        guard count <= UInt64(Self.maxTokens), count * 8 <= UInt64(r.remaining) else {
            throw DecodeError.invalid("ring member with \(count) tokens", at: countAt)
        }
        var tokens = [Token]()
        tokens.reserveCapacity(Int(count))
        for _ in 0 ..< count { tokens.append(Token(try r.readInt64())) }
        guard r.isAtEnd else { throw DecodeError.invalid("trailing bytes after ring member", at: r.position) }
        self.init(identity: identity, dataCenter: dc, rack: rack, tokens: tokens)
    }

    static func readBoundedString(_ r: inout ByteReader) throws(DecodeError) -> String {
        let start = r.position
        let n = try r.readVarLength()
        guard n <= maxLocationBytes else { throw DecodeError.invalid("location name of \(n) bytes", at: start) }
        return try r.readUTF8(n, at: start)
    }
}
