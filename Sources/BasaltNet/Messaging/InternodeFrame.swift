import BasaltCore

/// Flags of an internode frame (byte 1 of the header).
///
/// Valid combinations: none (a request expecting a response), ``oneWay``, ``response``, and
/// ``response`` with ``failure``. Anything else is rejected by the decoder.
public struct InternodeFrameFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The frame answers the request with the same id.
    public static let response = InternodeFrameFlags(rawValue: 0x01)
    /// With ``response``: the remote handler failed; the payload is a UTF-8 message.
    public static let failure = InternodeFrameFlags(rawValue: 0x02)
    /// A request that expects no response.
    public static let oneWay = InternodeFrameFlags(rawValue: 0x04)

    /// True for the four valid combinations.
    public var isValid: Bool {
        switch rawValue {
        case 0x00, 0x01, 0x03, 0x04: true
        default: false
        }
    }
}

/// The fixed part of an internode frame.
///
/// Layout (all integers big-endian), version 1:
///
/// | offset | size | field |
/// | --- | --- | --- |
/// | 0 | 1 | version (1) |
/// | 1 | 1 | flags (``InternodeFrameFlags``) |
/// | 2 | 2 | verb code |
/// | 4 | 8 | request id |
/// | 12 | 4 | payload length N |
/// | 16 | 4 | CRC32C of bytes 0..<16 |
/// | 20 | N | payload |
/// | 20+N | 4 | CRC32C of the payload (0 when N is 0) |
///
/// The header has its own checksum so a corrupt length is caught before any payload is awaited.
public struct InternodeFrameHeader: Sendable, Hashable {
    public static let currentVersion: UInt8 = 1
    /// Bytes before the payload.
    public static let size = 20
    /// Bytes after the payload (its checksum).
    public static let trailerSize = 4
    /// Header plus trailer: what a frame costs beyond its payload.
    public static let overhead = size + trailerSize

    public var version: UInt8
    public var flags: InternodeFrameFlags
    public var verb: UInt16
    public var requestID: UInt64
    public var payloadLength: UInt32

    public init(
        version: UInt8 = InternodeFrameHeader.currentVersion, flags: InternodeFrameFlags, verb: UInt16,
        requestID: UInt64,
        payloadLength: UInt32
    ) {
        self.version = version
        self.flags = flags
        self.verb = verb
        self.requestID = requestID
        self.payloadLength = payloadLength
    }

    /// Writes the 20 header bytes (with their checksum) at the start of `buffer`.
    @inlinable
    public func encode(into buffer: UnsafeMutableRawBufferPointer) {
        buffer.storeBytes(of: version, toByteOffset: 0, as: UInt8.self)
        buffer.storeBytes(of: flags.rawValue, toByteOffset: 1, as: UInt8.self)
        buffer.storeBytes(of: verb.bigEndian, toByteOffset: 2, as: UInt16.self)
        buffer.storeBytes(of: requestID.bigEndian, toByteOffset: 4, as: UInt64.self)
        buffer.storeBytes(of: payloadLength.bigEndian, toByteOffset: 12, as: UInt32.self)
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0 ..< 16]))
        buffer.storeBytes(of: crc.bigEndian, toByteOffset: 16, as: UInt32.self)
    }

    /// Reads the fields from the first 20 bytes of `bytes` without validating them.
    @inlinable
    static func load(from bytes: UnsafeRawBufferPointer) -> (header: InternodeFrameHeader, crc: UInt32) {
        let header = InternodeFrameHeader(
            version: bytes.load(fromByteOffset: 0, as: UInt8.self),
            flags: InternodeFrameFlags(rawValue: bytes.load(fromByteOffset: 1, as: UInt8.self)),
            verb: UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self)),
            requestID: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt64.self)),
            payloadLength: UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
        return (header, UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt32.self)))
    }
}

/// One decoded internode frame.
public struct InternodeFrame: Sendable, Equatable {
    public var flags: InternodeFrameFlags
    public var verb: UInt16
    public var requestID: UInt64
    public var payload: [UInt8]

    public init(flags: InternodeFrameFlags, verb: UInt16, requestID: UInt64, payload: [UInt8]) {
        self.flags = flags
        self.verb = verb
        self.requestID = requestID
        self.payload = payload
    }

    /// The frame's bytes on the wire (version ``InternodeFrameHeader/currentVersion``).
    public func encoded() -> [UInt8] {
        let crc = CRC32C.checksum(payload)
        let total = InternodeFrameHeader.overhead + payload.count
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, count in
            InternodeFrame.encode(
                flags: flags, verb: verb, requestID: requestID, payload: payload, payloadCRC: crc,
                into: UnsafeMutableRawBufferPointer(buffer))
            count = total
        }
    }

    /// Writes a whole frame into `buffer`, which must hold exactly `overhead + payload.count` bytes.
    /// `payloadCRC` is `CRC32C.checksum(payload)`, computed by the caller (off the loop for big
    /// payloads).
    @inlinable
    public static func encode(
        flags: InternodeFrameFlags, verb: UInt16, requestID: UInt64, payload: [UInt8], payloadCRC: UInt32,
        into buffer: UnsafeMutableRawBufferPointer
    ) {
        let header = InternodeFrameHeader(
            flags: flags, verb: verb, requestID: requestID, payloadLength: UInt32(payload.count))
        header.encode(into: buffer)
        let end = InternodeFrameHeader.size + payload.count
        payload.withUnsafeBytes { source in
            UnsafeMutableRawBufferPointer(rebasing: buffer[InternodeFrameHeader.size ..< end]).copyMemory(from: source)
        }
        buffer.storeBytes(of: payloadCRC.bigEndian, toByteOffset: end, as: UInt32.self)
    }
}
