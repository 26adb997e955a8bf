import BasaltCluster
import BasaltCore
import BasaltStorage
import Testing

/// The `index.rows` verb's payloads and the restrictions `vector.nearest` carries: round trips,
/// and garbage refused with a decode error, never a crash.
@Suite struct IndexedRowsCodecTests {
    static let restrictions: [IndexTermRestriction] = [
        IndexTermRestriction(index: "price_idx", predicate: .equals([0, 0, 0, 7])),
        IndexTermRestriction(index: "p2", predicate: .range(lower: [1], lowerInclusive: true, upper: nil, upperInclusive: false)),
        IndexTermRestriction(index: "p3", predicate: .range(lower: nil, lowerInclusive: false, upper: [9, 9], upperInclusive: true)),
        IndexTermRestriction(index: "tags", predicate: .contains(Array("t1".utf8))),
        IndexTermRestriction(index: "keys", predicate: .containsKey(Array("k".utf8))),
        IndexTermRestriction(index: "entries", predicate: .entry(key: Array("color".utf8), value: Array("red".utf8))),
    ]

    static let command = IndexedRowsCommand(
        keyspace: "ks", table: "t", tableId: UUIDValue(msb: 1, lsb: 2), restrictions: restrictions,
        ranges: [TokenRange(start: Token(-5), end: Token(100)), TokenRange(start: Token(200), end: .max)],
        after: ScanPosition(token: Token(42), partitionKey: [1, 2, 3], clustering: [[4], []]), limit: 500, nowSeconds: 1_700_000_000)

    static let page = IndexedRowsPage(keys: [RowKey(partitionKey: [1], clustering: []),
                                             RowKey(partitionKey: [2], clustering: [[3], [4, 5]])],
                                      next: ScanPosition(token: Token(-9), partitionKey: [2]))

    @Test func roundTrips() throws {
        #expect(try IndexedRowsCommand.decode(Self.command.encoded()) == Self.command)
        var fromStart = Self.command
        fromStart.after = nil
        fromStart.ranges = []
        #expect(try IndexedRowsCommand.decode(fromStart.encoded()) == fromStart)
        #expect(try IndexedRowsPage.decode(Self.page.encoded()) == Self.page)
        let last = IndexedRowsPage(keys: [], next: nil)
        #expect(try IndexedRowsPage.decode(last.encoded()) == last)
        let nearest = NearestRowsCommand(keyspace: "ks", table: "t", tableId: UUIDValue(msb: 1, lsb: 2), index: "v", vector: [1, 2],
                                         k: 10, ranges: [TokenRange(start: Token(1), end: Token(2))], restrictions: Self.restrictions)
        #expect(try NearestRowsCommand.decode(nearest.encoded()) == nearest)
        var plain = nearest
        plain.restrictions = []
        #expect(try NearestRowsCommand.decode(plain.encoded()) == plain)
    }

    @Test func everyTruncationIsRefused() {
        let command = Self.command.encoded(), page = Self.page.encoded()
        for n in 0 ..< command.count {
            #expect(throws: DecodeError.self) { _ = try IndexedRowsCommand.decode(Array(command.prefix(n))) }
        }
        for n in 0 ..< page.count {
            #expect(throws: DecodeError.self) { _ = try IndexedRowsPage.decode(Array(page.prefix(n))) }
        }
        var extended = Self.command.encoded()
        extended.append(0)
        #expect(throws: DecodeError.self) { _ = try IndexedRowsCommand.decode(extended) }
    }

    @Test func invalidFieldsAreRefused() {
        var noRestrictions = Self.command
        noRestrictions.restrictions = []
        #expect(throws: DecodeError.self) { _ = try IndexedRowsCommand.decode(noRestrictions.encoded()) }
        var zero = Self.command
        zero.limit = 0
        #expect(throws: DecodeError.self) { _ = try IndexedRowsCommand.decode(zero.encoded()) }
    }

    @Test func randomGarbageNeverCrashes() {
        var rng = SplitMix64(seed: 99)
        let good = Self.command.encoded()
        for _ in 0 ..< 3000 {
            var bytes = good
            // Flip a few bytes, or replace everything with noise.
            if rng.next() % 4 == 0 {
                bytes = (0 ..< Int(rng.next() % 120)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                for _ in 0 ..< 1 + Int(rng.next() % 4) { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            _ = try? IndexedRowsCommand.decode(bytes)
            _ = try? IndexedRowsPage.decode(bytes)
            _ = try? NearestRowsCommand.decode(bytes)
        }
    }

    @Test func keyOrderPutsAWholePartitionBeforeItsRowsAndAfterItsEnd() {
        let table = TableSchema(keyspace: "ks", name: "t", id: UUIDValue(msb: 1, lsb: 1), columns: [
            ColumnDefinition(name: "k", type: .int, kind: .partitionKey, position: 0),
            ColumnDefinition(name: "c", type: .int, kind: .clustering, position: 0, isDescending: true),
        ])
        let order = IndexKeyOrder(table: table)
        let t = Token(5)
        let whole = ScanPosition(token: t, partitionKey: [1], clustering: [])
        let row9 = ScanPosition(token: t, partitionKey: [1], clustering: [[0, 0, 0, 9]])
        let row1 = ScanPosition(token: t, partitionKey: [1], clustering: [[0, 0, 0, 1]])
        let end = ScanPosition(token: t, partitionKey: [1])
        let next = ScanPosition(token: Token(6), partitionKey: [0], clustering: [])
        let sorted = [whole, row9, row1, end, next]
        for (i, a) in sorted.enumerated() {
            for (j, b) in sorted.enumerated() { #expect((order.compare(a, b) < 0) == (i < j), "\(i) \(j)") }
        }
    }
}
