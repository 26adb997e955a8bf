import BasaltCore
@testable import BasaltProtocol
import Testing
@testable import BasaltCQL

struct FrameCodecTests {
    static func requestBytes(_ r: Request, stream: Int16 = 1, compression: FrameCompression? = nil) -> [UInt8] {
        RequestFrame(stream: stream, request: r).frame(compression: compression).encoded()
    }

    @Test func headerLayoutIsNineBigEndianBytes() {
        let bytes = Frame(header: FrameHeader(version: 0x04, flags: [.tracing], stream: 0x0102, opcode: .query, bodyLength: 0), body: [1, 2, 3]).encoded()
        #expect(bytes == [0x04, 0x02, 0x01, 0x02, 0x07, 0, 0, 0, 3, 1, 2, 3])
    }

    @Test func decoderAssemblesFramesFromArbitraryChunks() throws {
        let frames = (0 ..< 20).map { i in Self.requestBytes(.query("SELECT \(i)", QueryParameters(consistency: .localOne)), stream: Int16(i)) }
        let all = frames.flatMap { $0 }
        for chunk in [1, 2, 7, 9, 64, all.count] {
            var d = FrameDecoder()
            var got = [Frame]()
            var i = 0
            while i < all.count {
                d.append(all[i ..< min(i + chunk, all.count)])
                while let f = try d.next() { got.append(f) }
                i += chunk
            }
            #expect(got.count == 20)
            #expect(got.map(\.header.stream) == (0 ..< 20).map(Int16.init))
            #expect(d.bufferedByteCount == 0)
        }
    }

    @Test(arguments: [UInt8(0x42), 0x41, 0x06, 0x03])
    func unsupportedVersionsAreAnsweredWithProtocolErrorOnTheSameStream(version: UInt8) throws {
        var d = FrameDecoder()
        d.append([version, 0x00, 0x00, 0x05, 0x05, 0, 0, 0, 0])
        #expect(throws: FrameDecodeError.unsupportedVersion(version: version, stream: 5)) { try d.next() }
        // The decoder stays failed.
        #expect(throws: FrameDecodeError.self) { try d.next() }
        let err = FrameDecodeError.unsupportedVersion(version: version, stream: 5)
        #expect(err.isFatal)
        let bytes = err.errorFrame.encoded()
        #expect(bytes[0] == 0x84)
        #expect(bytes[2] == 0x00 && bytes[3] == 0x05)
        #expect(bytes[4] == Opcode.error.rawValue)
        let decoded = try ResponseFrame.decode(err.errorFrame, compression: nil)
        guard case let .error(.protocolError(message)) = decoded.response else { Issue.record("not a protocol error"); return }
        #expect(message.contains("unsupported protocol version"))
        #expect(message.contains("(\(version & 0x7f))"))
    }

    @Test func responseFramesAreRejectedByAServer() {
        var d = FrameDecoder(side: .server)
        d.append([0x84, 0, 0, 1, 2, 0, 0, 0, 0])
        #expect(throws: FrameDecodeError.wrongDirection(version: 0x84, stream: 1)) { try d.next() }
    }

    @Test func oversizedHeaderFailsAtOnceWithoutReadingTheBody() throws {
        var d = FrameDecoder(maxBodyLength: 16)
        let big = Frame(header: FrameHeader(version: 4, stream: 3, opcode: .query, bodyLength: 0), body: [UInt8](repeating: 0x41, count: 100)).encoded()
        d.append(big.prefix(FrameHeader.size))
        let error = FrameDecodeError.frameTooLarge(length: 100, limit: 16, stream: 3)
        #expect(throws: error) { try d.next() }
        #expect(error.isFatal)
        #expect(error.description == "Request is too big: length 100 exceeds maximum allowed length 16.")
        // Sticky: the rest of the body and anything after it are neither buffered nor decoded.
        d.append(big.dropFirst(FrameHeader.size))
        d.append(Self.requestBytes(.options, stream: 4))
        #expect(d.bufferedByteCount == 0)
        #expect(throws: error) { try d.next() }
    }

    @Test func aHalfSentLargeFrameHoldsOnlyWhatArrived() throws {
        var d = FrameDecoder(maxBodyLength: 16 << 20)
        var header = ByteWriter(capacity: 9)
        FrameHeader(version: 4, stream: 1, opcode: .query, bodyLength: 15 << 20).encode(into: &header)
        d.append(header.bytes)
        #expect(try d.next() == nil)
        #expect(d.reservedByteCount < 1 << 16)
        #expect(d.incompleteFrameSize == 9 + (15 << 20))
        let chunk = [UInt8](repeating: 7, count: 64 << 10)
        for _ in 0 ..< 16 { d.append(chunk) }
        #expect(try d.next() == nil)
        #expect(d.bufferedByteCount == 9 + (1 << 20))
        #expect(d.reservedByteCount < 4 << 20)
    }

    @Test func unknownOpcodeIsReportedAndSkipped() throws {
        var d = FrameDecoder()
        d.append([0x04, 0, 0, 9, 0x04, 0, 0, 0, 2, 0xaa, 0xbb] + Self.requestBytes(.options, stream: 10))
        #expect(throws: FrameDecodeError.unknownOpcode(0x04, stream: 9)) { try d.next() }
        #expect(try d.next()?.header.stream == 10)
    }

    static let requests: [Request] = [
        .startup(["CQL_VERSION": "3.0.0", "COMPRESSION": "lz4"]),
        .options,
        .query("SELECT * FROM t WHERE k = ?", QueryParameters(consistency: .localOne, values: [.bytes([0, 0, 0, 1]), .null, .unset], skipMetadata: true,
                                                              pageSize: 5000, pagingState: [1, 2, 3], serialConsistency: .localSerial, defaultTimestamp: 1_700_000_000_000_000)),
        .query("SELECT * FROM t WHERE k = :k", QueryParameters(consistency: .quorum, values: [.bytes([7])], names: ["k"])),
        .prepare("INSERT INTO t (k, v) VALUES (?, ?)"),
        .execute(id: Array(0 ..< 16), QueryParameters(consistency: .one, values: [.bytes([]), .bytes([1, 2])], defaultTimestamp: 5)),
        .batch(BatchRequest(type: .unlogged, children: [
            BatchChild(statement: .query("INSERT INTO t (k) VALUES (?)"), values: [.bytes([0, 0, 0, 1])]),
            BatchChild(statement: .prepared(id: [9, 9]), values: [.null, .unset]),
        ], consistency: .localQuorum, serialConsistency: .serial, defaultTimestamp: 42)),
        .register(["TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"]),
        .authResponse([0] + Array("cassandra".utf8) + [0] + Array("cassandra".utf8)),
        .authResponse(nil),
    ]

    @Test(arguments: requests)
    func requestsRoundTrip(request: Request) throws {
        for compression in [nil, FrameCompression.lz4, .snappy] {
            let frame = RequestFrame(stream: 77, tracing: true, customPayload: ["k": [1, 2]], request: request).frame(compression: compression)
            var d = FrameDecoder()
            d.append(frame.encoded())
            let got = try #require(try d.next())
            let decoded = try RequestFrame.decode(got, compression: compression)
            #expect(decoded.request == request)
            #expect(decoded.stream == 77 && decoded.tracing)
            #expect(decoded.customPayload?["k"] == .some([1, 2]))
        }
    }

    @Test func queryParametersLayoutFollowsTheSpec() {
        var w = ByteWriter()
        QueryParameters(consistency: .localOne, values: [.null, .unset], pageSize: 100, defaultTimestamp: 1).encode(into: &w)
        #expect(w.bytes == [0x00, 0x0A, 0x25, 0x00, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                            0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 1])
    }

    @Test func malformedBodiesAreProtocolErrors() {
        let frame = Frame(header: FrameHeader(version: 4, stream: 1, opcode: .query, bodyLength: 0), body: [0, 0, 0, 10, 0x41])
        #expect(throws: CQLError.self) { try RequestFrame.decode(frame, compression: nil) }
        do {
            _ = try RequestFrame.decode(frame, compression: nil)
        } catch {
            guard case let .protocolError(m) = error else { Issue.record("wrong error \(error)"); return }
            #expect(m.hasPrefix("Invalid QUERY message"))
        }
        let badValue = Frame(header: FrameHeader(version: 4, stream: 1, opcode: .execute, bodyLength: 0),
                             body: [0, 1, 9, 0, 1, 0x01, 0, 1, 0xff, 0xff, 0xff, 0xfd])
        #expect(throws: CQLError.self) { try RequestFrame.decode(badValue, compression: nil) }
    }

    @Test func readyIsAnEmptyResponseFrame() {
        #expect(ResponseFrame(stream: 3, response: .ready).frame().encoded() == [0x84, 0, 0, 3, 0x02, 0, 0, 0, 0])
    }

    @Test func supportedAlwaysCarriesCompression() throws {
        let bytes = ResponseFrame(stream: 0, response: .supported(cqlVersions: ["3.4.7"], compression: [])).frame().encoded()
        var r = ByteReader(bytes, from: 9)
        let map = try r.readStringMultimap()
        #expect(map.map(\.0) == ["CQL_VERSION", "COMPRESSION", "PROTOCOL_VERSIONS"])
        #expect(map[1].1 == [])
        #expect(Array(bytes[9 ..< 11]) == [0, 3])
    }

    @Test func errorBodiesMatchTheSpec() {
        func body(_ e: CQLError) -> [UInt8] {
            var w = ByteWriter()
            e.encode(into: &w)
            return w.bytes
        }
        #expect(body(.unavailable("x", consistency: .quorum, required: 2, alive: 1)) == [0, 0, 0x10, 0, 0, 1, 0x78, 0, 4, 0, 0, 0, 2, 0, 0, 0, 1])
        #expect(body(.writeTimeout("", consistency: .one, received: 0, blockFor: 1, writeType: .simple))
            == [0, 0, 0x11, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 6] + Array("SIMPLE".utf8))
        #expect(body(.readTimeout("", consistency: .one, received: 1, blockFor: 1, dataPresent: false)) == [0, 0, 0x12, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0])
        #expect(body(.alreadyExists("", keyspace: "ks", table: "")) == [0, 0, 0x24, 0, 0, 0, 0, 2, 0x6b, 0x73, 0, 0])
        #expect(body(.unprepared("", id: [0xab, 0xcd])) == [0, 0, 0x25, 0, 0, 0, 0, 2, 0xab, 0xcd])
        #expect(body(.syntaxError("bad")) == [0, 0, 0x20, 0, 0, 3] + Array("bad".utf8))
    }

    static let errors: [CQLError] = [
        .serverError("s"), .protocolError("p"), .badCredentials("b"), .unavailable("u", consistency: .all, required: 3, alive: 2),
        .overloaded("o"), .isBootstrapping("i"), .truncateError("t"),
        .writeTimeout("w", consistency: .quorum, received: 1, blockFor: 2, writeType: .batchLog),
        .readTimeout("r", consistency: .localQuorum, received: 1, blockFor: 2, dataPresent: true),
        .readFailure("rf", consistency: .one, received: 0, blockFor: 1, failures: 1, dataPresent: false),
        .functionFailure("f", keyspace: "ks", function: "fn", argTypes: ["int"]),
        .writeFailure("wf", consistency: .two, received: 1, blockFor: 2, failures: 1, writeType: .unloggedBatch),
        .syntaxError("x"), .unauthorized("u"), .invalid("i"), .configError("c"), .alreadyExists("a", keyspace: "ks", table: "t"),
        .unprepared("n", id: [1, 2, 3]),
    ]

    @Test(arguments: errors)
    func errorsRoundTrip(error: CQLError) throws {
        let frame = ResponseFrame(stream: 9, response: .error(error)).frame()
        #expect(try ResponseFrame.decode(frame, compression: nil).response == .error(error))
    }

    static let table = ColumnSpec(keyspace: "ks", table: "t", name: "k", type: .int)

    static let responses: [Response] = [
        .ready, .authenticate("org.apache.cassandra.auth.PasswordAuthenticator"), .authChallenge([1]), .authSuccess(nil),
        .supported(cqlVersions: ["3.4.7"]),
        .result(.void), .result(.setKeyspace("ks")),
        .result(.rows(RowsResult(metadata: ResultMetadata(columns: [table, ColumnSpec(keyspace: "ks", table: "t", name: "v", type: .vector(.float, 2))]),
                                 rows: [[[0, 0, 0, 1], nil], [[0, 0, 0, 2], [0x3f, 0x80, 0, 0, 0x40, 0, 0, 0]]]))),
        .result(.rows(RowsResult(metadata: ResultMetadata(columns: [table, ColumnSpec(keyspace: "other", table: "u", name: "m", type: .map(.text, .frozen(.list(.int))))],
                                                          pagingState: [5, 5]), rows: []))),
        .result(.prepared(PreparedResult(id: [1, 2], variables: [table], partitionKeyIndexes: [0], resultMetadata: .empty))),
        .result(.schemaChange(SchemaChangeDescription(change: .created, target: .table, keyspace: "ks", name: "t"))),
        .result(.schemaChange(SchemaChangeDescription(change: .dropped, target: .keyspace, keyspace: "ks"))),
        .result(.schemaChange(SchemaChangeDescription(change: .updated, target: .function, keyspace: "ks", name: "f", argumentTypes: ["int"]))),
        .event(.topologyChange(.newNode, InetEndpoint(address: [127, 0, 0, 2], port: 9042))),
        .event(.statusChange(.down, InetEndpoint(address: Array(repeating: 0, count: 15) + [1], port: 9042))),
        .event(.schemaChange(SchemaChangeDescription(change: .updated, target: .table, keyspace: "ks", name: "t"))),
    ]

    @Test(arguments: responses)
    func responsesRoundTrip(response: Response) throws {
        for compression in [nil, FrameCompression.lz4, .snappy] {
            let rf = ResponseFrame(stream: 12, tracingId: UUIDValue(msb: 1, lsb: 2), warnings: ["careful"], customPayload: ["p": nil], response: response)
            var d = FrameDecoder(side: .client)
            d.append(rf.frame(compression: compression).encoded())
            let frame = try #require(try d.next())
            let back = try ResponseFrame.decode(frame, compression: compression)
            #expect(back.response == response)
            #expect(back.tracingId == UUIDValue(msb: 1, lsb: 2) && back.warnings == ["careful"])
        }
    }

    @Test func tracingIdAndWarningsComeFirstInTheBody() {
        let bytes = ResponseFrame(stream: 0, tracingId: UUIDValue(msb: 0, lsb: 1), warnings: ["w"], response: .result(.void)).frame().encoded()
        #expect(bytes[1] == FrameFlags.tracing.rawValue | FrameFlags.warning.rawValue)
        #expect(Array(bytes[9 ..< 25]) == [UInt8](repeating: 0, count: 15) + [1])
        #expect(Array(bytes[25 ..< 30]) == [0, 1, 0, 1, 0x77])
        #expect(Array(bytes[30...]) == [0, 0, 0, 1])
    }

    @Test func preparedResultLayout() {
        var w = ByteWriter()
        ResultBody.prepared(PreparedResult(id: [0xaa], variables: [Self.table], partitionKeyIndexes: [0], resultMetadata: .empty)).encode(into: &w)
        let expected: [UInt8] = [0, 0, 0, 4, 0, 1, 0xaa, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0,
                                 0, 2, 0x6b, 0x73, 0, 1, 0x74, 0, 1, 0x6b, 0, 9,
                                 0, 0, 0, 4, 0, 0, 0, 0]
        #expect(w.bytes == expected)
    }

    @Test func vectorTypeTravelsAsCustomType() throws {
        var w = ByteWriter()
        TypeOption.encode(.vector(.float, 5), into: &w)
        var r = ByteReader(w.bytes)
        #expect(try r.readUInt16() == 0)
        #expect(try r.readShortString() == "org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType , 5)")
        var r2 = ByteReader(w.bytes)
        #expect(try TypeOption.decode(from: &r2) == .vector(.float, 5))
    }

    @Test(arguments: [CQLType.ascii, .bigint, .blob, .boolean, .date, .double, .float, .inet, .int, .smallint, .text, .time, .timestamp,
                      .timeuuid, .tinyint, .uuid, .list(.int), .set(.frozen(.list(.text))), .map(.text, .bigint), .frozen(.tuple([.int, .text])),
                      .vector(.float, 3)])
    func typeOptionsRoundTrip(type: CQLType) throws {
        var w = ByteWriter()
        TypeOption.encode(type, into: &w)
        var r = ByteReader(w.bytes)
        #expect(try TypeOption.decode(from: &r) == type)
        #expect(r.isAtEnd)
    }

    @Test func compressionRejectsGarbageAndLies() throws {
        let text = Array(String(repeating: "basalt ", count: 200).utf8)
        for c in FrameCompression.allCases {
            #expect(try c.decompress(c.compress(text)) == text)
            #expect(try c.decompress(c.compress([])) == [])
            #expect(throws: FrameCompressionError.self) { try c.decompress([0xff, 0xff, 0xff, 0xff, 0xff, 1, 2]) }
        }
        var lying = FrameCompression.lz4.compress(text)
        lying[3] &+= 1
        #expect(throws: FrameCompressionError.self) { try FrameCompression.lz4.decompress(lying) }
        #expect(throws: FrameCompressionError.self) { try FrameCompression.lz4.decompress(FrameCompression.lz4.compress(text), maxLength: 10) }
    }
}
