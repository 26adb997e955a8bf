import BasaltCore

/// The checksums of protocol v5 segments: CRC-24 over the segment header, CRC-32 over its payload.
public enum SegmentChecksum {
    /// CRC-24 with Cassandra's parameters (polynomial 0x1974F0B, initial value 0x875060, no
    /// reflection), over the low `byteCount` bytes of `value` taken least significant first.
    public static func crc24(_ value: UInt64, byteCount: Int) -> UInt32 {
        var crc: UInt32 = 0x875060
        var data = value
        for _ in 0 ..< byteCount {
            crc ^= UInt32(data & 0xff) << 16
            data >>= 8
            for _ in 0 ..< 8 {
                crc <<= 1
                if crc & 0x100_0000 != 0 { crc ^= 0x1974F0B }
            }
        }
        return crc & 0xff_ffff
    }

    /// Table of the reflected IEEE CRC-32 (polynomial 0xEDB88320), as zlib computes it.
    static let table: [UInt32] = (0 ..< 256).map { n in
        var c = UInt32(n)
        for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// Running CRC-32 state (not yet inverted) after `bytes`, starting from `state`.
    static func update(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c = state
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        }
        return c
    }

    /// Plain CRC-32 (zlib's `crc32`) of `bytes`.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { ~update(0xffff_ffff, $0) }
    }

    /// The v5 payload checksum: CRC-32 of the four bytes FA 2D 55 CA followed by the payload.
    static let primedState: UInt32 = [UInt8]([0xfa, 0x2d, 0x55, 0xca]).withUnsafeBytes { update(0xffff_ffff, $0) }

    public static func payloadCRC32(_ bytes: UnsafeRawBufferPointer) -> UInt32 { ~update(primedState, bytes) }

    public static func payloadCRC32(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { payloadCRC32($0) } }
}

/// Why a stream of v5 segments could not be read. Every case is fatal: the connection's bytes are
/// no longer trusted and it must be closed.
public enum SegmentDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    case headerChecksum(expected: UInt32, computed: UInt32)
    case payloadChecksum(expected: UInt32, computed: UInt32)
    case decompression(String)

    public var description: String {
        switch self {
        case let .headerChecksum(e, c):
            "CRC mismatch on segment header: received 0x\(String(e, radix: 16)), computed 0x\(String(c, radix: 16))"
        case let .payloadChecksum(e, c):
            "CRC mismatch on segment payload: received 0x\(String(e, radix: 16)), computed 0x\(String(c, radix: 16))"
        case let .decompression(m): "Invalid LZ4 segment payload: \(m)"
        }
    }
}

/// One segment's payload: whole frames when self-contained, else a slice of one large frame.
public struct Segment: Hashable, Sendable {
    public var payload: [UInt8]
    public var isSelfContained: Bool

    public init(payload: [UInt8], isSelfContained: Bool) {
        self.payload = payload
        self.isSelfContained = isSelfContained
    }
}

/// Protocol v5 framing (spec §2 of native_protocol_v5): after STARTUP is answered with READY or
/// AUTHENTICATE, both directions carry frames inside checksummed segments.
///
/// ```
/// uncompressed: 3-byte header (payload length: 17 bits, self-contained: 1 bit), CRC-24 (3 bytes),
///               payload, CRC-32 (4 bytes)
/// LZ4:          5-byte header (compressed length: 17 bits, uncompressed length: 17 bits,
///               self-contained: 1 bit), CRC-24, payload, CRC-32 of the compressed payload
/// ```
/// Integers are little-endian. A payload is at most 128 KiB - 1 bytes (uncompressed). An LZ4
/// segment whose uncompressed length is 0 carries its payload uncompressed (it did not shrink).
/// A frame that does not fit in one segment is cut across several segments that are not
/// self-contained; several small frames may share one self-contained segment.
public struct SegmentCodec: Sendable {
    public static let maxPayloadLength = 128 * 1024 - 1

    public let lz4: Bool

    public init(lz4: Bool) { self.lz4 = lz4 }

    public var headerLength: Int { lz4 ? 5 : 3 }
    /// Header and its CRC-24.
    public var headerLengthWithCRC: Int { headerLength + 3 }

    /// Appends `frames` (whole encoded frames, back to back) to `out` as segments: one
    /// self-contained segment when they fit, else non-self-contained segments of at most
    /// ``maxPayloadLength`` bytes each.
    public func encode(_ frames: [UInt8], into out: inout [UInt8]) {
        frames.withUnsafeBytes { all in
            if all.count <= Self.maxPayloadLength {
                encodeSegment(all, selfContained: true, into: &out)
                return
            }
            var start = 0
            while start < all.count {
                let end = min(start + Self.maxPayloadLength, all.count)
                encodeSegment(UnsafeRawBufferPointer(rebasing: all[start ..< end]), selfContained: false, into: &out)
                start = end
            }
        }
    }

    public func encode(_ frames: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(frames.count + 16)
        encode(frames, into: &out)
        return out
    }

    private func encodeSegment(_ payload: UnsafeRawBufferPointer, selfContained: Bool, into out: inout [UInt8]) {
        var header = UInt64(payload.count)
        var body: [UInt8]? = nil
        if lz4 {
            let compressed = FrameCompression.lz4CompressBlock(Array(payload))
            if compressed.count < payload.count {
                header = UInt64(compressed.count) | UInt64(payload.count) << 17
                body = compressed
            }
            if selfContained { header |= 1 << 34 }
        } else if selfContained {
            header |= 1 << 17
        }
        appendLittleEndian(header, byteCount: headerLength, to: &out)
        appendLittleEndian(UInt64(SegmentChecksum.crc24(header, byteCount: headerLength)), byteCount: 3, to: &out)
        let crc: UInt32
        if let body {
            out.append(contentsOf: body)
            crc = SegmentChecksum.payloadCRC32(body)
        } else {
            out.append(contentsOf: payload)
            crc = SegmentChecksum.payloadCRC32(payload)
        }
        appendLittleEndian(UInt64(crc), byteCount: 4, to: &out)
    }
}

func appendLittleEndian(_ value: UInt64, byteCount: Int, to out: inout [UInt8]) {
    for i in 0 ..< byteCount { out.append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
}

/// Cuts a byte stream into v5 segments, checking both checksums, incrementally: ``append(_:)``
/// then ``next()`` until nil. Holds at most one segment (≤ 128 KiB + 12 bytes) plus the unread
/// part of the last chunk. After an error every call throws it again and nothing is buffered.
public struct SegmentDecoder: Sendable {
    public let codec: SegmentCodec
    private var buffer: [UInt8] = []
    private var readOffset = 0
    private var failure: SegmentDecodeError?

    public init(lz4: Bool) { codec = SegmentCodec(lz4: lz4) }

    public var bufferedByteCount: Int { buffer.count - readOffset }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        guard failure == nil else { return }
        if readOffset > 0 && readOffset >= buffer.count / 2 {
            buffer.removeFirst(readOffset)
            readOffset = 0
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func next() throws(SegmentDecodeError) -> Segment? {
        if let failure { throw failure }
        let hl = codec.headerLength
        guard buffer.count - readOffset >= hl + 3 else { return nil }
        let header = littleEndian(at: readOffset, byteCount: hl)
        let expectedHeaderCRC = UInt32(littleEndian(at: readOffset + hl, byteCount: 3))
        let headerCRC = SegmentChecksum.crc24(header, byteCount: hl)
        guard headerCRC == expectedHeaderCRC else { return try fail(.headerChecksum(expected: expectedHeaderCRC, computed: headerCRC)) }
        let mask = UInt64(SegmentCodec.maxPayloadLength)
        let length = Int(header & mask)
        let uncompressedLength = codec.lz4 ? Int((header >> 17) & mask) : 0
        let selfContained = (header >> (codec.lz4 ? 34 : 17)) & 1 == 1
        let total = hl + 3 + length + 4
        guard buffer.count - readOffset >= total else { return nil }
        let payloadStart = readOffset + hl + 3
        let expectedCRC = UInt32(littleEndian(at: payloadStart + length, byteCount: 4))
        let crc = buffer.withUnsafeBytes { SegmentChecksum.payloadCRC32(UnsafeRawBufferPointer(rebasing: $0[payloadStart ..< payloadStart + length])) }
        guard crc == expectedCRC else { return try fail(.payloadChecksum(expected: expectedCRC, computed: crc)) }
        var payload = Array(buffer[payloadStart ..< payloadStart + length])
        readOffset += total
        if readOffset == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readOffset = 0
        }
        if uncompressedLength > 0 {
            do {
                payload = try FrameCompression.lz4DecompressBlock(payload, exactLength: uncompressedLength)
            } catch {
                return try fail(.decompression(error.description))
            }
        }
        return Segment(payload: payload, isSelfContained: selfContained)
    }

    private func littleEndian(at offset: Int, byteCount: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0 ..< byteCount { v |= UInt64(buffer[offset + i]) << (8 * i) }
        return v
    }

    private mutating func fail(_ e: SegmentDecodeError) throws(SegmentDecodeError) -> Segment? {
        failure = e
        buffer = []
        readOffset = 0
        throw e
    }
}
