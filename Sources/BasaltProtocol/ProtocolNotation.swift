import BasaltCore

// The body notations of the v4 spec §3 ([short], [string], [long string], [bytes], [value],
// [short bytes], [string list], [string map], [string multimap], [bytes map], [inet], [uuid]) as
// ByteReader/ByteWriter extensions. Readers throw DecodeError on anything malformed.

/// A bound value as the protocol carries it: bytes, null (length -1) or not set (length -2).
public enum ProtocolValue: Hashable, Sendable {
    case bytes([UInt8])
    case null
    case unset

    /// The bytes, or nil for null and unset.
    public var bytes: [UInt8]? {
        if case let .bytes(b) = self { return b }
        return nil
    }
}

/// An address and port as the protocol's [inet] carries it.
public struct InetEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// 4 (IPv4) or 16 (IPv6) bytes.
    public var address: [UInt8]
    public var port: Int32

    public init(address: [UInt8], port: Int32) {
        self.address = address
        self.port = port
    }

    public var description: String { "\(CQLValue.inetText(address)):\(port)" }
}

extension ByteWriter {
    public mutating func writeShortString(_ s: String) {
        let u = Array(s.utf8)
        writeUInt16(UInt16(truncatingIfNeeded: u.count))
        writeBytes(u.prefix(Int(UInt16.max)))
    }

    public mutating func writeLongString(_ s: String) {
        let u = Array(s.utf8)
        writeInt32(Int32(truncatingIfNeeded: u.count))
        writeBytes(u)
    }

    public mutating func writeStringList(_ list: [String]) {
        writeUInt16(UInt16(truncatingIfNeeded: list.count))
        for s in list { writeShortString(s) }
    }

    /// A [string map]; keys are written in sorted order so encodings are deterministic.
    public mutating func writeStringMap(_ map: [String: String]) {
        writeUInt16(UInt16(truncatingIfNeeded: map.count))
        for k in map.keys.sorted() {
            writeShortString(k)
            writeShortString(map[k] ?? "")
        }
    }

    /// A [string multimap], keys in the given order.
    public mutating func writeStringMultimap(_ entries: [(String, [String])]) {
        writeUInt16(UInt16(truncatingIfNeeded: entries.count))
        for (k, vs) in entries {
            writeShortString(k)
            writeStringList(vs)
        }
    }

    /// [bytes]: an int length then the bytes; nil writes length -1.
    public mutating func writeProtocolBytes(_ b: [UInt8]?) {
        guard let b else { writeInt32(-1); return }
        writeInt32(Int32(truncatingIfNeeded: b.count))
        writeBytes(b)
    }

    public mutating func writeProtocolValue(_ v: ProtocolValue) {
        switch v {
        case let .bytes(b): writeProtocolBytes(b)
        case .null: writeInt32(-1)
        case .unset: writeInt32(-2)
        }
    }

    public mutating func writeShortBytes(_ b: [UInt8]) {
        writeUInt16(UInt16(truncatingIfNeeded: b.count))
        writeBytes(b.prefix(Int(UInt16.max)))
    }

    /// A [bytes map], keys sorted.
    public mutating func writeBytesMap(_ map: [String: [UInt8]?]) {
        writeUInt16(UInt16(truncatingIfNeeded: map.count))
        for k in map.keys.sorted() {
            writeShortString(k)
            writeProtocolBytes(map[k] ?? nil)
        }
    }

    public mutating func writeInet(_ e: InetEndpoint) {
        writeUInt8(UInt8(truncatingIfNeeded: e.address.count))
        writeBytes(e.address)
        writeInt32(e.port)
    }

    public mutating func writeUUID(_ u: UUIDValue) {
        writeUInt64(u.msb)
        writeUInt64(u.lsb)
    }
}

extension ByteReader {
    public mutating func readShortString() throws(DecodeError) -> String {
        let at = position
        let n = Int(try readUInt16())
        return try readUTF8(n, at: at)
    }

    public mutating func readLongString() throws(DecodeError) -> String {
        let at = position
        let n = try readInt32()
        guard n >= 0 else { throw DecodeError.invalid("negative [long string] length \(n)", at: at) }
        return try readUTF8(Int(n), at: at)
    }

    public mutating func readStringList() throws(DecodeError) -> [String] {
        let n = Int(try readUInt16())
        var out = [String]()
        out.reserveCapacity(min(n, remaining / 2))
        for _ in 0 ..< n { out.append(try readShortString()) }
        return out
    }

    /// A [string map]; a repeated key keeps its last value.
    public mutating func readStringMap() throws(DecodeError) -> [String: String] {
        let n = Int(try readUInt16())
        var out = [String: String]()
        for _ in 0 ..< n {
            let k = try readShortString()
            out[k] = try readShortString()
        }
        return out
    }

    public mutating func readStringMultimap() throws(DecodeError) -> [(String, [String])] {
        let n = Int(try readUInt16())
        var out = [(String, [String])]()
        for _ in 0 ..< n { out.append((try readShortString(), try readStringList())) }
        return out
    }

    /// [bytes]: nil for a negative length (null).
    public mutating func readProtocolBytes() throws(DecodeError) -> [UInt8]? {
        let n = try readInt32()
        if n < 0 { return nil }
        return try readBytes(Int(n))
    }

    /// [value]: -1 is null, -2 not set, anything below -2 is an error.
    public mutating func readProtocolValue() throws(DecodeError) -> ProtocolValue {
        let at = position
        let n = try readInt32()
        switch n {
        case -1: return .null
        case -2: return .unset
        case ..<(-2): throw DecodeError.invalid("invalid [value] length \(n)", at: at)
        default: return .bytes(try readBytes(Int(n)))
        }
    }

    public mutating func readShortBytes() throws(DecodeError) -> [UInt8] {
        try readBytes(Int(try readUInt16()))
    }

    public mutating func readBytesMap() throws(DecodeError) -> [String: [UInt8]?] {
        let n = Int(try readUInt16())
        var out = [String: [UInt8]?]()
        for _ in 0 ..< n {
            let k = try readShortString()
            out[k] = .some(try readProtocolBytes())
        }
        return out
    }

    public mutating func readInet() throws(DecodeError) -> InetEndpoint {
        let at = position
        let n = Int(try readUInt8())
        guard n == 4 || n == 16 else { throw DecodeError.invalid("[inet] address of \(n) bytes", at: at) }
        return InetEndpoint(address: try readBytes(n), port: try readInt32())
    }

    public mutating func readUUID() throws(DecodeError) -> UUIDValue {
        UUIDValue(msb: try readUInt64(), lsb: try readUInt64())
    }
}
