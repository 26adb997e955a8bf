import Testing
import BasaltCore

struct CQLTypeTests {
    @Test(arguments: [
        ("int", "int"), ("VARCHAR", "text"), ("list<int>", "list<int>"), ("map<text,int>", "map<text, int>"),
        ("frozen<set<uuid>>", "frozen<set<uuid>>"), ("list<list<int>>", "list<frozen<list<int>>>"),
        ("tuple<int, text>", "frozen<tuple<int, text>>"), ("vector<float, 5>", "vector<float, 5>"),
        ("map<text, frozen<map<int, blob>>>", "map<text, frozen<map<int, blob>>>"),
    ])
    func parsesAndPrints(text: String, canonical: String) throws {
        let t = try CQLType(parsing: text)
        #expect(t.cqlName == canonical)
        #expect(try CQLType(parsing: canonical) == t)
    }

    @Test(arguments: ["", "lst<int>", "list<int", "vector<int, 3>", "vector<float, 0>", "frozen<int>", "counter", "int int"])
    func rejectsBadTypes(text: String) {
        #expect(throws: CQLTypeParseError.self) { try CQLType(parsing: text) }
    }

    @Test func vectorMarshalName() {
        #expect(CQLType.vector(.float, 3).marshalClassName
            == "org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType , 3)")
    }

    static let samples: [(CQLType, CQLValue)] = [
        (.ascii, .ascii("abc")), (.text, .text("żółw")), (.blob, .blob([0, 1, 255])), (.boolean, .boolean(true)),
        (.int, .int(-7)), (.bigint, .bigint(.max)), (.smallint, .smallint(-300)), (.tinyint, .tinyint(-8)),
        (.float, .float(1.25)), (.double, .double(-0.5)), (.timestamp, .timestamp(1_700_000_000_000)),
        (.date, .date(1 << 31)), (.time, .time(3_600_000_000_000)), (.inet, .inet([127, 0, 0, 1])),
        (.uuid, .uuid(UUIDValue("550e8400-e29b-41d4-a716-446655440000")!)),
        (.timeuuid, .timeuuid(.timeBased(unixMicros: 1, sequenceAndNode: 2))),
        (.list(.int), .list([.int(3), .int(1), .int(3)])),
        (.set(.text), .set([.text("a"), .text("b")])),
        (.map(.text, .bigint), .map([CQLMapEntry(key: .text("k"), value: .bigint(1))])),
        (.frozen(.tuple([.int, .text])), .tuple([.int(1), nil])),
        (.vector(.float, 3), .vector([0.5, -1, 2])),
    ]

    @Test(arguments: samples)
    func valuesRoundTrip(type: CQLType, value: CQLValue) throws {
        let bytes = try type.encode(value)
        #expect(try type.decode(bytes) == value)
    }

    @Test func setsAndMapsAreNormalized() throws {
        let bytes = try CQLType.set(.int).encode(.set([.int(3), .int(-1), .int(3)]))
        #expect(try CQLType.set(.int).decode(bytes) == .set([.int(-1), .int(3)]))
        let m = try CQLType.map(.text, .int).encode(.map([
            CQLMapEntry(key: .text("b"), value: .int(1)), CQLMapEntry(key: .text("a"), value: .int(2)),
            CQLMapEntry(key: .text("b"), value: .int(3)),
        ]))
        #expect(try CQLType.map(.text, .int).decode(m) == .map([
            CQLMapEntry(key: .text("a"), value: .int(2)), CQLMapEntry(key: .text("b"), value: .int(3)),
        ]))
    }

    @Test func mismatchedAndMalformedValuesAreErrors() {
        #expect(throws: CQLTypeMismatch.self) { try CQLType.int.encode(.text("x")) }
        #expect(throws: CQLTypeMismatch.self) { try CQLType.ascii.encode(.text("é")) }
        #expect(throws: CQLTypeMismatch.self) { try CQLType.vector(.float, 2).encode(.vector([1])) }
        #expect(throws: DecodeError.self) { try CQLType.int.decode([1, 2, 3]) }
        #expect(throws: DecodeError.self) { try CQLType.list(.int).decode([0, 0, 0, 9, 0, 0, 0, 4]) }
        #expect(throws: DecodeError.self) { try CQLType.list(.int).decode([0x7f, 0xff, 0xff, 0xff]) }
        #expect(throws: DecodeError.self) { try CQLType.text.decode([0xc3, 0x28]) }
        #expect(throws: DecodeError.self) { try CQLType.timeuuid.decode(UUIDValue.random().bytes) }
    }

    func sorted(_ type: CQLType, _ values: [CQLValue]) throws -> [CQLValue] {
        try values.map { try type.encode($0) }.sorted { type.compare($0, $1) < 0 }.map { try type.decode($0) }
    }

    @Test func comparatorsFollowCassandra() throws {
        #expect(try sorted(.int, [.int(5), .int(-3), .int(0), .int(.min)]) == [.int(.min), .int(-3), .int(0), .int(5)])
        #expect(try sorted(.bigint, [.bigint(1), .bigint(-1)]) == [.bigint(-1), .bigint(1)])
        #expect(try sorted(.double, [.double(.nan), .double(1), .double(-0.0), .double(0), .double(-.infinity)])
            .map(\.cqlLiteral) == ["-Infinity", "-0.0", "0.0", "1.0", "NaN"])
        #expect(try sorted(.text, [.text("b"), .text("ab"), .text("a"), .text("é")]) == [.text("a"), .text("ab"), .text("b"), .text("é")])
        let early = UUIDValue.timeBased(unixMicros: 1000, sequenceAndNode: .max)
        let late = UUIDValue.timeBased(unixMicros: 2000, sequenceAndNode: 0)
        #expect(try sorted(.timeuuid, [.timeuuid(late), .timeuuid(early)]) == [.timeuuid(early), .timeuuid(late)])
        #expect(try sorted(.frozen(.list(.int)), [.list([.int(1), .int(2)]), .list([.int(1)]), .list([.int(0), .int(9)])])
            == [.list([.int(0), .int(9)]), .list([.int(1)]), .list([.int(1), .int(2)])])
    }

    @Test func clusteringOrderHonoursDescending() {
        let t = TableSchema(keyspace: "ks", name: "t", id: .random(), columns: [
            ColumnDefinition(name: "k", type: .int, kind: .partitionKey, position: 0),
            ColumnDefinition(name: "a", type: .int, kind: .clustering, position: 0, isDescending: true),
            ColumnDefinition(name: "b", type: .text, kind: .clustering, position: 1),
        ])
        let one = try! CQLType.int.encode(.int(1)), two = try! CQLType.int.encode(.int(2))
        #expect(t.compareClustering([two, Array("a".utf8)], [one, Array("a".utf8)]) < 0)
        #expect(t.compareClustering([one, Array("a".utf8)], [one, Array("b".utf8)]) < 0)
        #expect(t.compareClustering([one], [one, Array("a".utf8)]) < 0)
    }
}
