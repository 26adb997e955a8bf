import BasaltCore

/// The native protocol's message types (v4 spec §2.4).
public enum Opcode: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case error = 0x00
    case startup = 0x01
    case ready = 0x02
    case authenticate = 0x03
    case options = 0x05
    case supported = 0x06
    case query = 0x07
    case result = 0x08
    case prepare = 0x09
    case execute = 0x0A
    case register = 0x0B
    case event = 0x0C
    case batch = 0x0D
    case authChallenge = 0x0E
    case authResponse = 0x0F
    case authSuccess = 0x10

    public var description: String {
        switch self {
        case .error: "ERROR"
        case .startup: "STARTUP"
        case .ready: "READY"
        case .authenticate: "AUTHENTICATE"
        case .options: "OPTIONS"
        case .supported: "SUPPORTED"
        case .query: "QUERY"
        case .result: "RESULT"
        case .prepare: "PREPARE"
        case .execute: "EXECUTE"
        case .register: "REGISTER"
        case .event: "EVENT"
        case .batch: "BATCH"
        case .authChallenge: "AUTH_CHALLENGE"
        case .authResponse: "AUTH_RESPONSE"
        case .authSuccess: "AUTH_SUCCESS"
        }
    }

    /// Whether clients send this opcode (as opposed to servers).
    public var isRequest: Bool {
        switch self {
        case .startup, .options, .query, .prepare, .execute, .register, .batch, .authResponse: true
        default: false
        }
    }
}

/// Header flags (v4 spec §2.2).
public struct FrameFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The body is compressed with the algorithm agreed in STARTUP.
    public static let compressed = FrameFlags(rawValue: 0x01)
    /// Request: trace this request. Response: the body starts with a 16-byte tracing id.
    public static let tracing = FrameFlags(rawValue: 0x02)
    /// The body carries a custom payload ([bytes map]).
    public static let customPayload = FrameFlags(rawValue: 0x04)
    /// Response: the body carries warnings ([string list]) after the tracing id.
    public static let warning = FrameFlags(rawValue: 0x08)
}

/// The 9-byte frame header of protocols v4 and v5 (spec §1–2): version, flags, stream, opcode, length.
public struct FrameHeader: Hashable, Sendable {
    public static let size = 9
    /// The protocol versions a server accepts: 4, and 5 (whose frames travel in segments once
    /// STARTUP is answered, ``SegmentCodec``).
    public static let supportedVersions: [UInt8] = [4, 5]
    /// The newest protocol version spoken.
    public static let newestVersion: UInt8 = 5
    /// The request version byte of protocol v4.
    public static let requestVersion: UInt8 = 0x04
    /// The response version byte of protocol v4 (direction bit set).
    public static let responseVersion: UInt8 = 0x84

    /// The raw version byte: direction bit 0x80 plus the protocol version.
    public var version: UInt8
    public var flags: FrameFlags
    /// Chosen by the client for requests (≥ 0); -1 for server-pushed events.
    public var stream: Int16
    /// The raw opcode byte; `opcode` is nil when it is not one v4 defines.
    public var rawOpcode: UInt8
    public var bodyLength: UInt32

    public init(version: UInt8, flags: FrameFlags = [], stream: Int16, opcode: Opcode, bodyLength: UInt32) {
        self.init(version: version, flags: flags, stream: stream, rawOpcode: opcode.rawValue, bodyLength: bodyLength)
    }

    public init(version: UInt8, flags: FrameFlags, stream: Int16, rawOpcode: UInt8, bodyLength: UInt32) {
        self.version = version
        self.flags = flags
        self.stream = stream
        self.rawOpcode = rawOpcode
        self.bodyLength = bodyLength
    }

    public var opcode: Opcode? { Opcode(rawValue: rawOpcode) }
    /// The protocol version without the direction bit.
    public var protocolVersion: UInt8 { version & 0x7f }
    public var isResponse: Bool { version & 0x80 != 0 }

    public func encode(into w: inout ByteWriter) {
        w.writeUInt8(version)
        w.writeUInt8(flags.rawValue)
        w.writeInt16(stream)
        w.writeUInt8(rawOpcode)
        w.writeUInt32(bodyLength)
    }

    /// Reads the nine header bytes; the caller checks that they are there.
    public static func decode(from r: inout ByteReader) throws(DecodeError) -> FrameHeader {
        FrameHeader(version: try r.readUInt8(), flags: FrameFlags(rawValue: try r.readUInt8()), stream: try r.readInt16(),
                    rawOpcode: try r.readUInt8(), bodyLength: try r.readUInt32())
    }
}

/// One whole frame: header and (still possibly compressed) body.
public struct Frame: Hashable, Sendable {
    public var header: FrameHeader
    public var body: [UInt8]

    public init(header: FrameHeader, body: [UInt8]) {
        self.header = header
        self.body = body
    }

    /// Header and body as they go on the wire; the header's length is set from the body.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: FrameHeader.size + body.count)
        var h = header
        h.bodyLength = UInt32(body.count)
        h.encode(into: &w)
        w.writeBytes(body)
        return w.bytes
    }
}
