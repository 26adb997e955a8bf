import BasaltCore
@testable import BasaltProtocol
import Testing
@testable import BasaltCQL

/// Protocol v5 segments: checksums against known vectors (the Python driver's values), the exact
/// bytes the driver writes, reassembly across reads, frames over one segment, LZ4 on and off,
/// corruption, and the v5 handshake of the connection state machine.
struct SegmentCodecTests {
    static func frameBytes(_ stream: Int16, _ request: Request, version: UInt8 = 5) -> [UInt8] {
        RequestFrame(version: version, stream: stream, request: request).frame().encoded()
    }

    @Test func crc24KnownVectors() {
        #expect(SegmentChecksum.crc24(0, byteCount: 3) == 0x7de777)
        #expect(SegmentChecksum.crc24(0x12345, byteCount: 3) == 0x8bc640)
        #expect(SegmentChecksum.crc24(1 << 17 | 5, byteCount: 3) == 0x9a9919)
        #expect(SegmentChecksum.crc24(0x03_0000_0040, byteCount: 5) == 0x14dc3c)
    }

    @Test func crc32KnownVectors() {
        #expect(SegmentChecksum.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        // Primed with FA 2D 55 CA, as the v5 payload checksum is.
        #expect(SegmentChecksum.payloadCRC32(Array("123456789".utf8)) == 0xE2A2_61A7)
        #expect(SegmentChecksum.payloadCRC32([]) == 0x4477_7ED3)
    }

    @Test func encodesExactlyAsTheDriverDoes() throws {
        // cassandra.segment.SegmentCodec().encode(b"hello"): header, CRC-24, payload, CRC-32.
        let expected: [UInt8] = [0x05, 0x00, 0x02, 0x19, 0x99, 0x9a, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x74, 0x80, 0x0e, 0xb6]
        #expect(SegmentCodec(lz4: false).encode(Array("hello".utf8)) == expected)
        var d = SegmentDecoder(lz4: false)
        d.append(expected)
        #expect(try d.next() == Segment(payload: Array("hello".utf8), isSelfContained: true))
        #expect(try d.next() == nil)
    }

    @Test(arguments: [false, true])
    func segmentsSplitAcrossReadsAreReassembled(lz4: Bool) throws {
        let frames = Self.frameBytes(1, .query("SELECT * FROM ks.t WHERE k = 1", QueryParameters()))
            + Self.frameBytes(2, .prepare("SELECT * FROM t", keyspace: "ks"))
        let wire = SegmentCodec(lz4: lz4).encode(frames) + SegmentCodec(lz4: lz4).encode(Self.frameBytes(3, .options))
        var d = FrameDecoder()
        d.startSegments(lz4: lz4)
        var got = [Frame]()
        for b in wire {
            d.append([b])
            while let f = try d.next() { got.append(f) }
        }
        #expect(got.map(\.header.stream) == [1, 2, 3])
        #expect(d.bufferedByteCount == 0)
        let prepare = try RequestFrame.decode(got[1], compression: nil)
        #expect(prepare.version == 5 && prepare.request == .prepare("SELECT * FROM t", keyspace: "ks"))
    }

    @Test(arguments: [false, true])
    func framesLargerThanOneSegmentSpanSeveral(lz4: Bool) throws {
        var random = SplitMix64(seed: 7)
        let blob = (0 ..< 300_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let frame = Self.frameBytes(9, .query("INSERT INTO t (k, v) VALUES (1, ?)", QueryParameters(values: [.bytes(blob)])))
        let wire = SegmentCodec(lz4: lz4).encode(frame)
        var segments = SegmentDecoder(lz4: lz4)
        segments.append(wire)
        var parts = [Segment]()
        while let s = try segments.next() { parts.append(s) }
        #expect(parts.count == 3 && parts.allSatisfy { !$0.isSelfContained })
        #expect(parts.allSatisfy { $0.payload.count <= SegmentCodec.maxPayloadLength })
        var d = FrameDecoder()
        d.startSegments(lz4: lz4)
        for chunk in stride(from: 0, to: wire.count, by: 50_000) { d.append(wire[chunk ..< min(chunk + 50_000, wire.count)]) }
        let decoded = try #require(try d.next())
        #expect(decoded.encoded() == frame)
    }

    @Test func lz4CompressesWhatShrinksAndStoresWhatDoesNot() throws {
        let compressible = [UInt8](repeating: 0x41, count: 10_000)
        let packed = SegmentCodec(lz4: true).encode(compressible)
        #expect(packed.count < 1_000)
        var d = SegmentDecoder(lz4: true)
        d.append(packed)
        #expect(try d.next()?.payload == compressible)
        // Random bytes do not shrink: stored as is, the header's uncompressed length 0.
        var random = SplitMix64(seed: 1)
        let noise = (0 ..< 1_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let stored = SegmentCodec(lz4: true).encode(noise)
        #expect(stored.count == noise.count + 8 + 4)
        #expect((UInt64(stored[2]) >> 1 | UInt64(stored[3]) << 7 | UInt64(stored[4] & 0x3) << 15) == 0)
        d.append(stored)
        #expect(try d.next()?.payload == noise)
    }

    @Test func corruptHeaderOrPayloadIsAFatalClearError() {
        let wire = SegmentCodec(lz4: false).encode(Self.frameBytes(1, .options))
        var badHeader = wire
        badHeader[1] ^= 0x01
        var d = FrameDecoder()
        d.startSegments(lz4: false)
        d.append(badHeader)
        #expect {
            try d.next()
        } throws: { error in
            guard let e = error as? FrameDecodeError, case .corruptSegment(.headerChecksum) = e else { return false }
            return e.isFatal && e.description.contains("CRC mismatch on segment header")
        }
        // It stays failed, and buffers nothing more.
        d.append(wire)
        #expect(throws: FrameDecodeError.self) { try d.next() }
        #expect(d.bufferedByteCount == 0)

        var badPayload = wire
        badPayload[8] ^= 0x80
        var p = FrameDecoder()
        p.startSegments(lz4: false)
        p.append(badPayload)
        #expect {
            try p.next()
        } throws: { error in
            guard let e = error as? FrameDecodeError, case .corruptSegment(.payloadChecksum) = e else { return false }
            return e.description.contains("CRC mismatch on segment payload")
        }
        // A corrupt LZ4 block with valid checksums is refused too.
        var lz4 = SegmentDecoder(lz4: true)
        let header: UInt64 = 4 | 100 << 17 | 1 << 34
        var forged = [UInt8]()
        appendLittleEndian(header, byteCount: 5, to: &forged)
        appendLittleEndian(UInt64(SegmentChecksum.crc24(header, byteCount: 5)), byteCount: 3, to: &forged)
        let block: [UInt8] = [0xff, 0xff, 0xff, 0xff]
        forged += block
        appendLittleEndian(UInt64(SegmentChecksum.payloadCRC32(block)), byteCount: 4, to: &forged)
        lz4.append(forged)
        #expect(throws: SegmentDecodeError.self) { try lz4.next() }
    }

    @Test func v5StartupSwitchesToSegmentsAfterReady() throws {
        var m = NativeConnectionStateMachine()
        let startup = RequestFrame(version: 5, stream: 0, request: .startup(["CQL_VERSION": "3.0.0", "COMPRESSION": "lz4"])).frame()
        let actions = m.onFrame(startup)
        #expect(actions == [.send(ResponseFrame(version: 5, stream: 0, response: .ready)), .startSegments(lz4: true)])
        #expect(m.version == 5 && m.compression == .lz4 && m.frameCompression == nil)
        // A v4 frame on a v5 connection is a protocol error that closes it.
        let v4 = m.onFrame(RequestFrame(stream: 1, request: .options).frame())
        #expect(v4.count == 2)
        guard case .close? = v4.last else { Issue.record("not closed"); return }
    }

    @Test func v5RefusesSnappyAndAuthenticatesInSegments() {
        var m = NativeConnectionStateMachine()
        let snappy = m.onFrame(RequestFrame(version: 5, stream: 0, request: .startup(["CQL_VERSION": "3.0.0", "COMPRESSION": "snappy"])).frame())
        guard case let .send(f)? = snappy.first, case let .error(e) = f.response else { Issue.record("snappy accepted"); return }
        #expect(e.code == 0x000A && m.state == .awaitingStartup)
        var auth = NativeConnectionStateMachine(settings: .init(requiresAuthentication: true))
        let a = auth.onFrame(RequestFrame(version: 5, stream: 0, request: .startup(["CQL_VERSION": "3.0.0"])).frame())
        #expect(a.count == 2 && a.last == .startSegments(lz4: false))
    }

    @Test func v5MessageFormatsRoundTrip() throws {
        var params = QueryParameters(consistency: .quorum, values: [.bytes([1])], pageSize: 10, defaultTimestamp: 5)
        params.keyspace = "ks"
        params.nowInSeconds = 1_700_000_000
        params.resultMetadataId = [9, 9]
        let execute = RequestFrame(version: 5, stream: 3, request: .execute(id: [1, 2, 3], params))
        #expect(try RequestFrame.decode(execute.frame(), compression: nil) == execute)
        var batch = BatchRequest(type: .unlogged, children: [BatchChild(statement: .query("INSERT INTO t (k) VALUES (1)"))], consistency: .one)
        batch.keyspace = "ks"
        batch.nowInSeconds = 42
        let b = RequestFrame(version: 5, stream: 4, request: .batch(batch))
        #expect(try RequestFrame.decode(b.frame(), compression: nil) == b)
        // v4 refuses the v5 keyspace flag.
        var w = ByteWriter()
        w.writeLongString("SELECT 1")
        w.writeConsistency(.one)
        w.writeUInt8(0x80)
        w.writeShortString("ks")
        var r = ByteReader(w.bytes)
        #expect(throws: DecodeError.self) { try Request.decode(opcode: .query, version: 4, from: &r) }
        // PREPARED carries the result metadata id in v5; ROWS says when it changed.
        let columns = [ColumnSpec(keyspace: "ks", table: "t", name: "v", type: .int)]
        let prepared = PreparedResult(id: [7], variables: [], partitionKeyIndexes: [], resultMetadata: ResultMetadata(columns: columns))
        var pw = ByteWriter()
        ResultBody.prepared(prepared).encode(into: &pw, version: 5)
        #expect(Array(pw.bytes[4 ..< 11]) == [0, 1, 7, 0, 16] + Array(prepared.resultMetadata.metadataId.prefix(2)))
        var pr = ByteReader(pw.bytes)
        #expect(try ResultBody.decode(from: &pr, version: 5) == .prepared(prepared))
        var rows = ResultMetadata(columns: columns)
        rows.newMetadataId = rows.metadataId
        var rw = ByteWriter()
        rows.encode(into: &rw)
        var rr = ByteReader(rw.bytes)
        #expect(try ResultMetadata.decode(from: &rr) == rows)
        // v5 failure errors carry a reason map where v4 has a count.
        let failure = CQLError.readFailure("failed", consistency: .quorum, received: 1, blockFor: 2, failures: 0, dataPresent: false)
        var ew = ByteWriter()
        failure.encode(into: &ew, version: 5)
        var er = ByteReader(ew.bytes)
        #expect(try CQLError.decode(from: &er, version: 5) == failure)
        // The map names each failed replica (IPv4 and IPv6), and its size is the count v5 clients see.
        let reasons = [FailureReason(address: [127, 0, 0, 2], code: 0), FailureReason(address: Array(repeating: 0, count: 15) + [1], code: 2)]
        let named = CQLError.writeFailure("failed", consistency: .all, received: 1, blockFor: 3, failures: 2, writeType: .simple, reasons: reasons)
        var nw = ByteWriter()
        named.encode(into: &nw, version: 5)
        var nr = ByteReader(nw.bytes)
        #expect(try CQLError.decode(from: &nr, version: 5) == named)
        var v4 = ByteWriter()
        named.encode(into: &v4, version: 4)
        var v4r = ByteReader(v4.bytes)
        #expect(try CQLError.decode(from: &v4r, version: 4)
                == .writeFailure("failed", consistency: .all, received: 1, blockFor: 3, failures: 2, writeType: .simple))
    }
}
