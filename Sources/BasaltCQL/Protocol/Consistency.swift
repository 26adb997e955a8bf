import BasaltCore

/// A consistency level as the protocol's [consistency] carries it (v4 spec §3).
public enum Consistency: UInt16, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case any = 0x0000
    case one = 0x0001
    case two = 0x0002
    case three = 0x0003
    case quorum = 0x0004
    case all = 0x0005
    case localQuorum = 0x0006
    case eachQuorum = 0x0007
    case serial = 0x0008
    case localSerial = 0x0009
    case localOne = 0x000A

    public var description: String {
        switch self {
        case .any: "ANY"
        case .one: "ONE"
        case .two: "TWO"
        case .three: "THREE"
        case .quorum: "QUORUM"
        case .all: "ALL"
        case .localQuorum: "LOCAL_QUORUM"
        case .eachQuorum: "EACH_QUORUM"
        case .serial: "SERIAL"
        case .localSerial: "LOCAL_SERIAL"
        case .localOne: "LOCAL_ONE"
        }
    }

    /// SERIAL or LOCAL_SERIAL.
    public var isSerial: Bool { self == .serial || self == .localSerial }
}

extension ByteReader {
    public mutating func readConsistency() throws(DecodeError) -> Consistency {
        let at = position
        let raw = try readUInt16()
        guard let c = Consistency(rawValue: raw) else {
            throw DecodeError.invalid("unknown consistency level 0x\(String(raw, radix: 16))", at: at)
        }
        return c
    }
}

extension ByteWriter {
    public mutating func writeConsistency(_ c: Consistency) { writeUInt16(c.rawValue) }
}
