import BasaltCore

/// Why the bytes of a connection could not be cut into frames.
///
/// ``isFatal`` says whether the connection can go on: after an unsupported version, a frame in
/// the wrong direction or a header announcing a body over the limit, the stream is not trusted and
/// must be answered (``errorFrame``) and closed (the oversized body is never read); an unknown
/// opcode is answered on its stream and the connection goes on (the decoder discards its body).
public enum FrameDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A version byte other than protocol 4 or 5 (e.g. 0x42, 0x41 or 6 while the driver negotiates).
    case unsupportedVersion(version: UInt8, stream: Int16)
    /// A response frame sent to a server, or a request frame sent to a client.
    case wrongDirection(version: UInt8, stream: Int16)
    /// The header announces a body longer than the configured maximum (fatal: the body is not read).
    case frameTooLarge(length: UInt32, limit: Int, stream: Int16)
    /// An opcode v4 does not define; the body is skipped.
    case unknownOpcode(UInt8, stream: Int16)
    /// A v5 segment failed its header or payload checksum or could not be inflated.
    case corruptSegment(SegmentDecodeError)

    public var isFatal: Bool {
        switch self {
        case .unsupportedVersion, .wrongDirection, .frameTooLarge, .corruptSegment: true
        case .unknownOpcode: false
        }
    }

    /// The stream the offending frame came on, to answer on.
    public var stream: Int16 {
        switch self {
        case let .unsupportedVersion(_, s), let .wrongDirection(_, s), let .frameTooLarge(_, _, s), let .unknownOpcode(_, s): s
        case .corruptSegment: 0
        }
    }

    public var description: String {
        switch self {
        case let .unsupportedVersion(v, _):
            "Invalid or unsupported protocol version (\(v & 0x7f)); supported versions are (4/v4, 5/v5)"
        case let .wrongDirection(v, _):
            "Unexpected frame direction (version byte 0x\(String(v, radix: 16)))"
        case let .frameTooLarge(length, limit, _):
            "Request is too big: length \(length) exceeds maximum allowed length \(limit)."
        case let .unknownOpcode(op, _):
            "Unknown opcode 0x\(String(op, radix: 16))"
        case let .corruptSegment(e): e.description
        }
    }

    /// The ERROR 0x000A frame a server answers with: same stream, version byte 0x84, this
    /// error's text (which contains `unsupported protocol version` for version mismatches, the
    /// phrase the Python driver looks for before retrying with a lower version).
    public var errorFrame: Frame {
        ResponseFrame(stream: stream, response: .error(.protocolError(description))).frame()
    }
}

/// Cuts a TCP byte stream into whole frames, incrementally.
///
/// Feed chunks as they arrive with ``append(_:)``, then call ``next()`` until it returns nil.
/// Guarantees: when `next()` is drained after each `append`, the buffer never holds more than one
/// frame's body (bounded by `maxBodyLength`) plus the unread part of the last chunk, and it grows
/// only with the bytes that arrived — a header announcing a large body reserves nothing; a header
/// announcing a body above the limit is reported as ``FrameDecodeError/frameTooLarge(length:limit:stream:)``
/// (fatal) as soon as the header is complete; nothing here traps on any input. After a fatal error
/// every later call throws the same error and nothing more is buffered.
public struct FrameDecoder: Sendable {
    /// Which direction of frames this side accepts.
    public enum Side: Sendable {
        /// A server: accepts request frames (version byte 0x04).
        case server
        /// A client: accepts response frames (version byte 0x84).
        case client
    }

    /// The default limit of a client reading responses: 256 MiB (a server's own limit is
    /// `NativeTransportLimits.maxFrameSize`, 16 MiB by default as Cassandra's).
    public static let defaultMaxBodyLength = 256 * 1024 * 1024

    public let side: Side
    public let maxBodyLength: Int
    private var buffer: [UInt8] = []
    private var readOffset = 0
    private var failure: FrameDecodeError?
    /// Set once v5 segments are in use: bytes go through it and its checked payloads into `buffer`.
    private var segments: SegmentDecoder?

    public init(side: Side = .server, maxBodyLength: Int = FrameDecoder.defaultMaxBodyLength) {
        self.side = side
        self.maxBodyLength = max(0, min(maxBodyLength, Int(Int32.max)))
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - readOffset + (segments?.bufferedByteCount ?? 0) }

    /// Whether the bytes are read as v5 segments.
    public var readsSegments: Bool { segments != nil }

    /// From now on the bytes are v5 segments (LZ4-compressed ones when `lz4`) whose payloads
    /// carry the frames; bytes already buffered after the last frame are the first segment bytes.
    public mutating func startSegments(lz4: Bool) {
        guard segments == nil else { return }
        let rest = Array(buffer[readOffset...])
        buffer = []
        readOffset = 0
        segments = SegmentDecoder(lz4: lz4)
        append(rest)
    }

    /// The whole size (header and body) of the frame being received once its header is in and
    /// accepted by ``next()``; nil between frames, while the header is incomplete, or after an error.
    public var incompleteFrameSize: Int? {
        let available = buffer.count - readOffset
        guard failure == nil, available >= FrameHeader.size else { return nil }
        let length = Int(buffer[readOffset + 5]) << 24 | Int(buffer[readOffset + 6]) << 16
            | Int(buffer[readOffset + 7]) << 8 | Int(buffer[readOffset + 8])
        guard length <= maxBodyLength, FrameHeader.size + length > available else { return nil }
        return FrameHeader.size + length
    }

    /// Bytes of memory the buffer holds (its capacity): it follows what arrived, never what a
    /// header announced.
    public var reservedByteCount: Int { buffer.capacity }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        guard failure == nil else { return }
        if readOffset > 0 && readOffset >= buffer.count / 2 {
            buffer.removeFirst(readOffset)
            readOffset = 0
        }
        guard segments != nil else {
            buffer.append(contentsOf: bytes)
            return
        }
        segments!.append(bytes)
        do {
            while let segment = try segments!.next() { buffer.append(contentsOf: segment.payload) }
        } catch {
            failure = .corruptSegment(error)
            buffer = []
            readOffset = 0
        }
    }

    /// The next whole frame, nil when more bytes are needed.
    public mutating func next() throws(FrameDecodeError) -> Frame? {
        if let failure { throw failure }
        let available = buffer.count - readOffset
        guard available >= 4 else { return nil }
        let version = buffer[readOffset]
        let protocolVersion = version & 0x7f
        let stream: Int16 = protocolVersion < 3
            ? Int16(Int8(bitPattern: buffer[readOffset + 2]))
            : Int16(bitPattern: UInt16(buffer[readOffset + 2]) << 8 | UInt16(buffer[readOffset + 3]))
        if !FrameHeader.supportedVersions.contains(protocolVersion) {
            return try fail(.unsupportedVersion(version: version, stream: stream))
        }
        let expectedDirection: UInt8 = side == .server ? 0 : 0x80
        if version & 0x80 != expectedDirection {
            return try fail(.wrongDirection(version: version, stream: stream))
        }
        guard available >= FrameHeader.size else { return nil }
        var r = ByteReader(buffer, from: readOffset)
        guard let header = try? FrameHeader.decode(from: &r) else { return nil }
        let length = Int(header.bodyLength)
        if length > maxBodyLength {
            return try fail(.frameTooLarge(length: header.bodyLength, limit: maxBodyLength, stream: header.stream))
        }
        guard available - FrameHeader.size >= length else { return nil }
        let bodyStart = readOffset + FrameHeader.size
        readOffset = bodyStart + length
        if header.opcode == nil {
            throw .unknownOpcode(header.rawOpcode, stream: header.stream)
        }
        let body = Array(buffer[bodyStart ..< bodyStart + length])
        if readOffset == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            readOffset = 0
        }
        return Frame(header: header, body: body)
    }

    private mutating func fail(_ e: FrameDecodeError) throws(FrameDecodeError) -> Frame? {
        failure = e
        buffer = []
        readOffset = 0
        throw e
    }
}
