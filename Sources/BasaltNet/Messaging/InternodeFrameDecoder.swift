import BasaltCore

/// Turns the byte chunks of one connection into ``InternodeFrame``s. A pure value: no I/O, no clock.
///
/// Guarantees: any input, however malformed, yields frames or an ``InternodeFrameError``, never a
/// trap; the first error is sticky (the stream cannot be resynchronised, so the connection must
/// close); a payload is copied once, from the chunk into the frame's array, and its checksum is computed as
/// the bytes arrive, so a large frame costs no single long pause. Memory held is bounded by the
/// largest acceptable payload (``maxPayloadSize``) plus the 20-byte header, and grows with the bytes
/// that arrived: a header announcing a large payload reserves at most ``initialReservation``.
public struct InternodeFrameDecoder: Sendable {
    /// Largest payload accepted; a header announcing more fails with
    /// ``InternodeFrameError/frameTooLarge(length:limit:at:)``.
    public let maxPayloadSize: Int
    /// Largest payload of the stream's first frame (the handshake, from a peer that has not
    /// identified itself yet); at most ``maxPayloadSize``.
    public let maxFirstPayloadSize: Int
    /// The most a payload buffer reserves before its bytes arrive.
    public static let initialReservation = 64 << 10
    /// Bytes consumed so far.
    public private(set) var streamOffset = 0

    private enum Phase: Sendable {
        case header
        case payload(InternodeFrameHeader)
        case trailer(InternodeFrameHeader)
    }

    private var phase = Phase.header
    private var partial: [UInt8] = []
    private var payload: [UInt8] = []
    private var payloadCRC: UInt32 = 0
    private var frameStart = 0
    private var failure: InternodeFrameError?

    public init(maxPayloadSize: Int, maxFirstPayloadSize: Int? = nil) {
        self.maxPayloadSize = maxPayloadSize
        self.maxFirstPayloadSize = min(maxFirstPayloadSize ?? maxPayloadSize, maxPayloadSize)
        partial.reserveCapacity(InternodeFrameHeader.size)
    }

    /// Decodes `chunk`, calling `onFrame` for every complete frame in order. `onFrame` returns false
    /// to stop early (the rest of the chunk is dropped; the decoder must not be fed again).
    public mutating func decode(
        _ chunk: UnsafeRawBufferPointer, _ onFrame: (InternodeFrame) -> Bool
    ) throws(InternodeFrameError) {
        if let failure { throw failure }
        var i = 0
        let n = chunk.count
        let base = streamOffset
        while i < n {
            switch phase {
            case .header:
                let header: InternodeFrameHeader
                if partial.isEmpty && n - i >= InternodeFrameHeader.size {
                    frameStart = base + i
                    let bytes = UnsafeRawBufferPointer(rebasing: chunk[i ..< i + InternodeFrameHeader.size])
                    header = try checked(validate(bytes))
                    i += InternodeFrameHeader.size
                } else {
                    if partial.isEmpty {
                        frameStart = base + i
                        let version = chunk[i]
                        if version != InternodeFrameHeader.currentVersion {
                            throw fail(.unsupportedVersion(version, at: frameStart))
                        }
                    }
                    let take = min(InternodeFrameHeader.size - partial.count, n - i)
                    partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[i ..< i + take]))
                    i += take
                    guard partial.count == InternodeFrameHeader.size else { break }
                    header = try checked(partial.withUnsafeBytes { validate($0) })
                    partial.removeAll(keepingCapacity: true)
                }
                payload = []
                payloadCRC = 0
                if header.payloadLength == 0 {
                    phase = .trailer(header)
                } else {
                    payload.reserveCapacity(min(Int(header.payloadLength), Self.initialReservation))
                    phase = .payload(header)
                }
            case let .payload(header):
                let take = min(Int(header.payloadLength) - payload.count, n - i)
                let piece = UnsafeRawBufferPointer(rebasing: chunk[i ..< i + take])
                payload.append(contentsOf: piece)
                payloadCRC = CRC32C.update(payloadCRC, piece)
                i += take
                if payload.count == Int(header.payloadLength) { phase = .trailer(header) }
            case let .trailer(header):
                let expected: UInt32
                if partial.isEmpty && n - i >= InternodeFrameHeader.trailerSize {
                    expected = UInt32(bigEndian: chunk.loadUnaligned(fromByteOffset: i, as: UInt32.self))
                    i += InternodeFrameHeader.trailerSize
                } else {
                    let take = min(InternodeFrameHeader.trailerSize - partial.count, n - i)
                    partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[i ..< i + take]))
                    i += take
                    guard partial.count == InternodeFrameHeader.trailerSize else { break }
                    expected = partial.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) }
                    partial.removeAll(keepingCapacity: true)
                }
                if expected != payloadCRC {
                    throw fail(.payloadChecksumMismatch(expected: expected, actual: payloadCRC, at: frameStart))
                }
                let frame = InternodeFrame(
                    flags: header.flags, verb: header.verb, requestID: header.requestID, payload: payload)
                payload = []
                phase = .header
                if !onFrame(frame) {
                    streamOffset = base + i
                    return
                }
            }
        }
        streamOffset = base + n
    }

    /// Whether a frame has begun and not ended: its header, payload or trailer is still arriving.
    public var isMidFrame: Bool {
        if case .header = phase { return !partial.isEmpty }
        return true
    }

    /// Bytes of the current frame held (header or trailer bytes and payload so far).
    public var bufferedByteCount: Int { partial.count + payload.count }

    /// Bytes of memory the payload buffer holds (its capacity).
    public var reservedByteCount: Int { payload.capacity }

    private func validate(_ bytes: UnsafeRawBufferPointer) -> Result<InternodeFrameHeader, InternodeFrameError> {
        let (header, crc) = InternodeFrameHeader.load(from: bytes)
        if header.version != InternodeFrameHeader.currentVersion {
            return .failure(.unsupportedVersion(header.version, at: frameStart))
        }
        let actual = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0 ..< 16]))
        if actual != crc { return .failure(.headerChecksumMismatch(expected: crc, actual: actual, at: frameStart)) }
        if !header.flags.isValid { return .failure(.invalidFlags(header.flags.rawValue, at: frameStart)) }
        let limit = frameStart == 0 ? maxFirstPayloadSize : maxPayloadSize
        if Int(header.payloadLength) > limit {
            return .failure(.frameTooLarge(length: Int(header.payloadLength), limit: limit, at: frameStart))
        }
        return .success(header)
    }

    private mutating func checked(
        _ result: Result<InternodeFrameHeader, InternodeFrameError>
    ) throws(InternodeFrameError) -> InternodeFrameHeader {
        switch result {
        case let .success(header): return header
        case let .failure(error): throw fail(error)
        }
    }

    private mutating func fail(_ error: InternodeFrameError) -> InternodeFrameError {
        failure = error
        partial = []
        payload = []
        return error
    }
}
