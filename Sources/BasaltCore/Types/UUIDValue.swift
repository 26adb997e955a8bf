/// A 128-bit UUID as two big-endian halves, the layout of CQL's `uuid` and `timeuuid` values.
///
/// Kept apart from Foundation's UUID so codecs stay free of Foundation. Version 1 (time-based) UUIDs
/// carry a 60-bit count of 100 ns intervals since 1582-10-15, per RFC 4122 §4.1.4.
public struct UUIDValue: Hashable, Sendable, CustomStringConvertible {
    public var msb: UInt64
    public var lsb: UInt64

    @inlinable public init(msb: UInt64, lsb: UInt64) {
        self.msb = msb
        self.lsb = lsb
    }

    /// From 16 bytes, big-endian; nil unless exactly 16 bytes.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var m: UInt64 = 0
        var l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { m = m << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        msb = m
        lsb = l
    }

    public var bytes: [UInt8] {
        var w = ByteWriter(capacity: 16)
        w.writeUInt64(msb)
        w.writeUInt64(lsb)
        return w.bytes
    }

    /// The version nibble (1 = time-based, 4 = random).
    @inlinable public var version: Int { Int((msb >> 12) & 0xf) }

    /// For a version-1 UUID, its 60-bit timestamp in 100 ns units since 1582-10-15.
    @inlinable public var timestamp100ns: UInt64 {
        let timeLow = msb >> 32
        let timeMid = (msb >> 16) & 0xffff
        let timeHi = msb & 0x0fff
        return timeHi << 48 | timeMid << 32 | timeLow
    }

    /// Offset between the UUID epoch (1582-10-15) and the Unix epoch, in 100 ns units.
    public static let unixEpochOffset100ns: UInt64 = 0x01B2_1DD2_1381_4000

    /// For a version-1 UUID, its time as Unix milliseconds.
    public var unixMillis: Int64 {
        (Int64(bitPattern: timestamp100ns) - Int64(Self.unixEpochOffset100ns)) / 10_000
    }

    /// A random (version 4) UUID.
    public static func random() -> UUIDValue {
        var g = SystemRandomNumberGenerator()
        return random(using: &g)
    }

    public static func random(using g: inout some RandomNumberGenerator) -> UUIDValue {
        let hi: UInt64 = g.next()
        let lo: UInt64 = g.next()
        let m = (hi & ~0xf000) | 0x4000
        let l = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000
        return UUIDValue(msb: m, lsb: l)
    }

    /// A time-based (version 1) UUID for `unixMicros`, with `sequenceAndNode` as its low 64 bits
    /// (the variant bits are forced to RFC 4122's).
    public static func timeBased(unixMicros: Int64, sequenceAndNode: UInt64) -> UUIDValue {
        let t = UInt64(bitPattern: unixMicros) &* 10 &+ unixEpochOffset100ns
        let timeLow = t & 0xffff_ffff
        let timeMid = (t >> 32) & 0xffff
        let timeHi = (t >> 48) & 0x0fff
        let m = timeLow << 32 | timeMid << 16 | 0x1000 | timeHi
        let l = (sequenceAndNode & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000
        return UUIDValue(msb: m, lsb: l)
    }

    /// Lower-case canonical 8-4-4-4-12 form.
    public var description: String {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(36)
        let all = bytes
        for (i, b) in all.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses the canonical 8-4-4-4-12 form (either case).
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(16)
        var i = 0
        while i < 36 {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard utf8[i] == UInt8(ascii: "-") else { return nil }
                i += 1
                continue
            }
            guard let hi = Self.hexValue(utf8[i]), let lo = Self.hexValue(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        self.init(bytes: out)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0") ... UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a") ... UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A") ... UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
