import BasaltCore
import BasaltNet
import Testing

/// Feeds `bytes` to a decoder in the given chunk sizes (cycled); returns the frames and the error.
func decodeAll(
    _ bytes: [UInt8], chunks: [Int] = [Int.max], maxPayload: Int = 1 << 20
) -> (frames: [InternodeFrame], error: InternodeFrameError?) {
    var decoder = InternodeFrameDecoder(maxPayloadSize: maxPayload)
    var frames: [InternodeFrame] = []
    var offset = 0, k = 0
    while offset < bytes.count {
        let size = max(1, min(chunks[k % chunks.count], bytes.count - offset))
        k += 1
        if let error = feed(&decoder, Array(bytes[offset ..< offset + size]), into: &frames) {
            return (frames, error)
        }
        offset += size
    }
    return (frames, nil)
}

/// Feeds one chunk; returns the decoder's error, if any.
func feed(_ decoder: inout InternodeFrameDecoder, _ chunk: [UInt8], into frames: inout [InternodeFrame]) -> InternodeFrameError? {
    chunk.withUnsafeBytes { raw -> InternodeFrameError? in
        do {
            try decoder.decode(raw) { frames.append($0); return true }
            return nil
        } catch {
            return error as? InternodeFrameError
        }
    }
}

func sampleFrames() -> [InternodeFrame] {
    [
        InternodeFrame(flags: .oneWay, verb: 0, requestID: 0, payload: []),
        InternodeFrame(flags: [], verb: 7, requestID: 1, payload: Array("hello".utf8)),
        InternodeFrame(flags: .response, verb: 7, requestID: 1, payload: [UInt8](repeating: 0xAB, count: 300)),
        InternodeFrame(flags: [.response, .failure], verb: 9, requestID: .max, payload: Array("boom".utf8)),
        InternodeFrame(flags: [], verb: 0xFFFF, requestID: 42, payload: (0 ..< 70_000).map { UInt8(truncatingIfNeeded: $0 * 7) }),
    ]
}

/// A header with a valid checksum but arbitrary fields.
func rawHeader(version: UInt8 = 1, flags: UInt8, verb: UInt16, id: UInt64, length: UInt32) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: InternodeFrameHeader.size)
    bytes.withUnsafeMutableBytes {
        InternodeFrameHeader(version: version, flags: InternodeFrameFlags(rawValue: flags), verb: verb, requestID: id, payloadLength: length)
            .encode(into: $0)
    }
    return bytes
}

struct InternodeFrameDecoderTests {
    @Test func framesRoundTripWhateverTheChunking() {
        let frames = sampleFrames()
        let stream = frames.flatMap { $0.encoded() }
        #expect(stream.count == frames.reduce(0) { $0 + $1.payload.count + InternodeFrameHeader.overhead })
        for chunks in [[Int.max], [1], [2], [3], [19], [20], [21], [23], [24], [25], [4096], [1, 7, 64, 3, 1000]] {
            let (decoded, error) = decodeAll(stream, chunks: chunks)
            #expect(error == nil, "chunks \(chunks)")
            #expect(decoded == frames, "chunks \(chunks)")
        }
    }

    @Test func headerLayoutIsTheDocumentedOne() {
        let bytes = InternodeFrame(flags: .response, verb: 0x0102, requestID: 0x0304_0506_0708_090A, payload: [0xEE]).encoded()
        #expect(bytes.count == 25)
        #expect(Array(bytes[0 ..< 16]) == [1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0, 0, 1])
        let headerCRC = CRC32C.checksum(bytes[0 ..< 16])
        #expect(Array(bytes[16 ..< 20]) == withUnsafeBytes(of: headerCRC.bigEndian) { Array($0) })
        #expect(bytes[20] == 0xEE)
        let payloadCRC = CRC32C.checksum([UInt8(0xEE)])
        #expect(Array(bytes[21 ..< 25]) == withUnsafeBytes(of: payloadCRC.bigEndian) { Array($0) })
    }

    @Test func unknownVersionIsRejectedFromTheFirstByte() {
        #expect(decodeAll([2]).error == .unsupportedVersion(2, at: 0))
        #expect(decodeAll(Array("GET / HTTP/1.1\r\n".utf8)).error == .unsupportedVersion(71, at: 0))
        let good = sampleFrames()[1].encoded()
        let later = good + rawHeader(version: 9, flags: 0, verb: 1, id: 1, length: 0)
        #expect(decodeAll(later).error == .unsupportedVersion(9, at: good.count))
    }

    @Test func corruptHeaderAndPayloadChecksumsAreRejected() {
        var header = sampleFrames()[1].encoded()
        header[8] ^= 0x10
        guard case .headerChecksumMismatch(_, _, at: 0)? = decodeAll(header).error else {
            Issue.record("expected a header checksum error, got \(String(describing: decodeAll(header).error))")
            return
        }
        var payload = sampleFrames()[2].encoded()
        payload[InternodeFrameHeader.size + 100] ^= 0x01
        guard case .payloadChecksumMismatch(_, _, at: 0)? = decodeAll(payload).error else {
            Issue.record("expected a payload checksum error")
            return
        }
        var trailer = sampleFrames()[1].encoded()
        trailer[trailer.count - 1] ^= 0xFF
        guard case .payloadChecksumMismatch? = decodeAll(trailer, chunks: [1]).error else {
            Issue.record("expected a payload checksum error in the trailer")
            return
        }
    }

    @Test func oversizeLengthIsRejectedBeforeAnyPayload() {
        let header = rawHeader(flags: 0, verb: 3, id: 5, length: 1 << 20 + 1)
        #expect(decodeAll(header, maxPayload: 1 << 20).error == .frameTooLarge(length: 1 << 20 + 1, limit: 1 << 20, at: 0))
        let huge = rawHeader(flags: 0, verb: 3, id: 5, length: .max)
        #expect(decodeAll(huge, maxPayload: 1 << 20).error == .frameTooLarge(length: Int(UInt32.max), limit: 1 << 20, at: 0))
    }

    @Test func invalidFlagsAreRejected() {
        for flags: UInt8 in [0x02, 0x05, 0x06, 0x07, 0x08, 0x80, 0xFF] {
            #expect(decodeAll(rawHeader(flags: flags, verb: 1, id: 1, length: 0)).error == .invalidFlags(flags, at: 0))
        }
    }

    @Test func errorsAreSticky() {
        var decoder = InternodeFrameDecoder(maxPayloadSize: 100)
        var frames: [InternodeFrame] = []
        #expect(feed(&decoder, [0x47], into: &frames) == .unsupportedVersion(0x47, at: 0))
        #expect(feed(&decoder, sampleFrames()[1].encoded(), into: &frames) == .unsupportedVersion(0x47, at: 0))
        #expect(frames.isEmpty)
    }

    @Test func randomBytesNeverCrashOrHang() {
        var random = SplitMix64(seed: 0xBA5A17)
        var errors = 0
        for _ in 0 ..< 3000 {
            let count = Int.random(in: 0 ... 600, using: &random)
            var bytes = (0 ..< count).map { _ in UInt8.random(in: 0 ... 255, using: &random) }
            // Half the cases start like a frame, so the decoder gets past the version byte.
            if !bytes.isEmpty && Bool.random(using: &random) { bytes[0] = InternodeFrameHeader.currentVersion }
            let chunk = Int.random(in: 1 ... 64, using: &random)
            let (frames, error) = decodeAll(bytes, chunks: [chunk], maxPayload: 4096)
            if error != nil { errors += 1 }
            // Random bytes essentially never carry two matching CRC32Cs.
            #expect(frames.isEmpty)
        }
        #expect(errors > 2000)
    }

    @Test func mutatedStreamsYieldOnlyIntactFramesThenAnError() {
        let frames = sampleFrames()
        let encoded = frames.map { $0.encoded() }
        let stream = encoded.flatMap { $0 }
        var starts: [Int] = []
        var offset = 0
        for frame in encoded {
            starts.append(offset)
            offset += frame.count
        }
        var random = SplitMix64(seed: 7)
        for round in 0 ..< 1500 {
            var bytes = stream
            let position = Int.random(in: 0 ..< bytes.count, using: &random)
            switch round % 4 {
            case 0: bytes[position] ^= UInt8.random(in: 1 ... 255, using: &random)
            case 1: bytes[position] ^= 1 << UInt8.random(in: 0 ... 7, using: &random)
            case 2: bytes.insert(UInt8.random(in: 0 ... 255, using: &random), at: position)
            default: bytes.remove(at: position)
            }
            let damaged = starts.lastIndex { $0 <= position } ?? 0
            let (decoded, error) = decodeAll(bytes, chunks: [Int.random(in: 1 ... 5000, using: &random)])
            // Frames before the damage come out intact; the damaged frame never does.
            #expect(decoded.count <= damaged, "round \(round): \(decoded.count) frames, damage in frame \(damaged)")
            #expect(Array(frames.prefix(decoded.count)) == decoded, "round \(round)")
            // A changed byte is always detected; an inserted or removed one may leave the decoder
            // waiting for bytes that never come, which the connection's close resolves.
            if round % 4 < 2 { #expect(error != nil, "round \(round)") }
        }
    }
}
