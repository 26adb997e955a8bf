import BasaltCore
@testable import BasaltProtocol
import Testing
@testable import BasaltCQL

/// Random and mutated inputs must give errors, never a crash or a hang. Counts are bounded so
/// the suite stays fast; the seeds make failures reproducible.
struct FuzzTests {
    static func mutate(_ bytes: [UInt8], _ g: inout SplitMix64) -> [UInt8] {
        var b = bytes
        for _ in 0 ..< Int.random(in: 1 ... 4, using: &g) {
            switch Int.random(in: 0 ..< 4, using: &g) {
            case 0 where !b.isEmpty: b[Int.random(in: 0 ..< b.count, using: &g)] = UInt8.random(in: 0 ... 255, using: &g)
            case 1 where !b.isEmpty: b.remove(at: Int.random(in: 0 ..< b.count, using: &g))
            case 2: b.insert(UInt8.random(in: 0 ... 255, using: &g), at: Int.random(in: 0 ... b.count, using: &g))
            default: if !b.isEmpty { b = Array(b.prefix(Int.random(in: 0 ..< b.count, using: &g))) }
            }
        }
        return b
    }

    @Test func frameDecoderSurvivesRandomAndMutatedStreams() {
        var g = SplitMix64(seed: 0xBA5A17)
        let seeds = FrameCodecTests.requests.map { RequestFrame(stream: 1, request: $0).frame().encoded() }
            + FrameCodecTests.responses.map { ResponseFrame(stream: 2, response: $0).frame().encoded() }
        var decodedFrames = 0
        for round in 0 ..< 3000 {
            let input: [UInt8] = round % 3 == 0
                ? (0 ..< Int.random(in: 0 ..< 64, using: &g)).map { _ in UInt8.random(in: 0 ... 255, using: &g) }
                : Self.mutate(seeds[Int.random(in: 0 ..< seeds.count, using: &g)], &g)
            for side in [FrameDecoder.Side.server, .client] {
                var d = FrameDecoder(side: side, maxBodyLength: 4096)
                d.append(input)
                var steps = 0
                while steps < 100 {
                    steps += 1
                    do {
                        guard let frame = try d.next() else { break }
                        decodedFrames += 1
                        for c in [nil, FrameCompression.lz4, .snappy] {
                            _ = try? RequestFrame.decode(frame, compression: c, maxBodyLength: 4096)
                            _ = try? ResponseFrame.decode(frame, compression: c, maxBodyLength: 4096)
                        }
                    } catch {
                        if error.isFatal { break }
                    }
                }
                #expect(steps < 100)
            }
        }
        #expect(decodedFrames > 100)
    }

    @Test func bodyDecodersSurviveMutatedBodies() {
        var g = SplitMix64(seed: 42)
        for request in FrameCodecTests.requests {
            var w = ByteWriter()
            request.encode(into: &w)
            for _ in 0 ..< 300 {
                var r = ByteReader(Self.mutate(w.bytes, &g))
                _ = try? Request.decode(opcode: request.opcode, from: &r)
            }
        }
        for response in FrameCodecTests.responses {
            var w = ByteWriter()
            response.encode(into: &w)
            for _ in 0 ..< 300 {
                var r = ByteReader(Self.mutate(w.bytes, &g))
                _ = try? Response.decode(opcode: response.opcode, from: &r)
            }
        }
    }

    static let statements = [
        "SELECT feature_name, value, event_ts FROM \"ks\".\"project_view\" WHERE entity_key = ?",
        "INSERT INTO ks.wide (a, b, c, d, l, m, e) VALUES (1, 'x', 2, 3, [1, 2], {'a': 1}, [0.1, 0.2, 0.3]) USING TTL 5",
        "UPDATE ks.wide SET l = l + [1], m['k'] = ? WHERE a = 1 AND b = 'x' AND c IN (1, 2) AND d = 3",
        "BEGIN UNLOGGED BATCH INSERT INTO kv (k) VALUES (?); DELETE v FROM kv WHERE k = 1 APPLY BATCH",
        "CREATE TABLE t (a int, b text, v vector<float, 3>, PRIMARY KEY ((a), b)) WITH CLUSTERING ORDER BY (b DESC) AND comment = 'x'",
        "SELECT k, similarity_cosine(e, [1.0, 0.0]) FROM kv WHERE token(k) > -5 ORDER BY e ANN OF ? LIMIT 3 ALLOW FILTERING",
        "CREATE CUSTOM INDEX i ON kv(e) USING 'sai' WITH OPTIONS = {'similarity_function': 'COSINE'} /* c */ -- d",
        "CREATE INDEX IF NOT EXISTS ON ks.wide (ENTRIES(m)) WITH OPTIONS = {'case_sensitive': false, 'source_model': 'bert'}",
        "SELECT * FROM wide WHERE m['k'] = ? AND st CONTAINS 'x' AND l CONTAINS KEY 1 AND v : 'w' ORDER BY e ANN OF [1, 2, 3] DESC LIMIT ?",
    ]

    @Test func parserAndBinderSurviveMutatedAndRandomText() throws {
        var g = SplitMix64(seed: 7)
        let schema = try BinderTests.schema()
        let binder = Binder(schema: schema, keyspace: "ks")
        let alphabet = Array("abcSELECTFROMWHEREINSERTVALUES()[]{}<>=,;.'\"?:-+*0123456789 \n$/".utf8)
        var parsed = 0
        for round in 0 ..< 4000 {
            let text: String
            if round % 4 == 0 {
                text = String(decoding: (0 ..< Int.random(in: 0 ..< 80, using: &g)).map { _ in alphabet[Int.random(in: 0 ..< alphabet.count, using: &g)] }, as: UTF8.self)
            } else {
                let base = Array(Self.statements[Int.random(in: 0 ..< Self.statements.count, using: &g)].utf8)
                text = String(decoding: Self.mutate(base, &g), as: UTF8.self)
            }
            do {
                let p = try CQLParser.parse(text)
                parsed += 1
                _ = try? binder.bind(p)
            } catch {
                #expect(error.location.line >= 1 && error.location.column >= 0)
                #expect(!error.message.isEmpty)
            }
        }
        #expect(parsed > 50)
    }

    @Test func schemaCodecSurvivesMutations() throws {
        var g = SplitMix64(seed: 99)
        var h = try IndexSchemaTests.harness()
        for target in ["e", "v", "KEYS(m)", "VALUES(m)", "ENTRIES(m)", "full(fl)", "l"] { try h.run("CREATE INDEX ON ks.s (\(target))") }
        #expect(try SchemaCodec.decodeSchema(SchemaCodec.encode(h.schema)) == h.schema)
        for _ in 0 ..< 2000 { _ = try? SchemaCodec.decodeSchema(Self.mutate(SchemaCodec.encode(h.schema), &g)) }
        let bytes = SchemaCodec.encode(try BinderTests.schema())
        for _ in 0 ..< 2000 { _ = try? SchemaCodec.decodeSchema(Self.mutate(bytes, &g)) }
    }
}
