import BasaltCore
@testable import BasaltStorage
import Testing

@Suite("Reconciliation rules")
struct ReconciliationTests {
    let cmp = ClusteringComparator(TestSchemas.wide())

    @Test func higherTimestampWins() {
        let a = Cell.live(column: "a", timestamp: 10, value: [1])
        let b = Cell.live(column: "a", timestamp: 11, value: [0])
        #expect(Cell.reconcile(a, b) == b)
        #expect(Cell.reconcile(b, a) == b)
        let t = Cell.tombstone(column: "a", timestamp: 9, deletedAt: 100)
        #expect(Cell.reconcile(a, t) == a)
    }

    @Test func onEqualTimestampsTombstoneThenGreaterValueWins() {
        let live = Cell.live(column: "a", timestamp: 10, value: [9])
        let dead = Cell.tombstone(column: "a", timestamp: 10, deletedAt: 5)
        #expect(Cell.reconcile(live, dead) == dead)
        #expect(Cell.reconcile(dead, live) == dead)
        let small = Cell.live(column: "a", timestamp: 10, value: [1, 2])
        let big = Cell.live(column: "a", timestamp: 10, value: [2])
        #expect(Cell.reconcile(small, big) == big)
        #expect(Cell.reconcile(big, small) == big)
    }

    @Test func deletionsShadowDataAtOrBelowTheirTimestamp() {
        let c = [TestSchemas.int32(1), Array("x".utf8)]
        let row = Row(clustering: c, liveness: LivenessInfo(timestamp: 10), cells: [
            .live(column: "a", timestamp: 10, value: [1]), .live(column: "b", timestamp: 11, value: [2]),
        ])
        let del = PartitionUpdate(rows: [Row(clustering: c, deletion: DeletionTime(markedForDeleteAt: 10, localDeletionTime: 0))])
        let merged = PartitionUpdate.merge(PartitionUpdate(rows: [row]), del, cmp)
        #expect(merged.rows.count == 1)
        #expect(merged.rows[0].liveness == nil)
        #expect(merged.rows[0].cells.map(\.column) == ["b"])
        #expect(merged.rows[0].deletion?.markedForDeleteAt == 10)
    }

    @Test func rangeTombstoneCoversPrefixBounds() {
        let rt = RangeTombstone(start: ClusteringBound([TestSchemas.int32(1)], inclusive: true),
                                end: ClusteringBound([TestSchemas.int32(2)], inclusive: false),
                                deletion: DeletionTime(markedForDeleteAt: 50, localDeletionTime: 0))
        let rows = [0, 1, 2].map { i in Row(clustering: [TestSchemas.int32(i), Array("z".utf8)], cells: [.live(column: "a", timestamp: 40, value: [1])]) }
        let merged = PartitionUpdate.merge(PartitionUpdate(rows: rows), PartitionUpdate(rangeTombstones: [rt]), cmp)
        #expect(merged.rows.map { $0.clustering[0] } == [TestSchemas.int32(0), TestSchemas.int32(2)])
    }

    @Test func descendingClusteringOrder() {
        // c2 is DESC: "z" sorts before "a" within the same c1.
        #expect(cmp.compare([TestSchemas.int32(1), Array("z".utf8)], [TestSchemas.int32(1), Array("a".utf8)]) < 0)
        #expect(cmp.compare([TestSchemas.int32(1)], [TestSchemas.int32(1), Array("a".utf8)]) < 0)
    }

    @Test func mergeIsCommutativeAndDigestsAgree() {
        var g = SplitMix64(seed: 7)
        for _ in 0 ..< 200 {
            func randomUpdate() -> PartitionUpdate {
                var u = PartitionUpdate()
                for _ in 0 ..< Int.random(in: 0 ..< 4, using: &g) {
                    let c = [TestSchemas.int32(Int.random(in: 0 ..< 3, using: &g)), Array("q".utf8)]
                    let ts = Int64.random(in: 1 ..< 6, using: &g)
                    var r = Row(clustering: c)
                    if Bool.random(using: &g) { r.liveness = LivenessInfo(timestamp: ts) }
                    if Bool.random(using: &g) { r.cells.append(.live(column: "a", timestamp: ts, value: [UInt8.random(in: 0 ..< 3, using: &g)])) }
                    if Int.random(in: 0 ..< 4, using: &g) == 0 { r.cells.append(.tombstone(column: "b", timestamp: ts, deletedAt: 1)) }
                    if Int.random(in: 0 ..< 5, using: &g) == 0 { r.deletion = DeletionTime(markedForDeleteAt: ts, localDeletionTime: 1) }
                    u.rows.append(r)
                }
                if Int.random(in: 0 ..< 6, using: &g) == 0 { u.partitionDeletion = DeletionTime(markedForDeleteAt: Int64.random(in: 1 ..< 6, using: &g), localDeletionTime: 1) }
                return u
            }
            let a = randomUpdate(), b = randomUpdate()
            let ab = PartitionUpdate.merge(a, b, cmp)
            let ba = PartitionUpdate.merge(b, a, cmp)
            #expect(ab == ba)
            let ra = PartitionResult(partitionKey: [1], update: ab), rb = PartitionResult(partitionKey: [1], update: ba)
            #expect(ra.digest(cmp) == rb.digest(cmp))
        }
    }

    @Test func liveViewDropsExpiredData() {
        let c = [TestSchemas.int32(1), Array("x".utf8)]
        let row = Row(clustering: c, liveness: .expiring(timestamp: 1, ttl: 10, now: 100), cells: [
            .live(column: "a", timestamp: 1, value: [1], ttl: 5, now: 100), .live(column: "b", timestamp: 1, value: [2]),
        ])
        let r = PartitionResult(partitionKey: [1], update: PartitionUpdate(rows: [row]))
        #expect(r.live(now: 104, cmp).rows[0].cells.map(\.column) == ["a", "b"])
        #expect(r.live(now: 105, cmp).rows[0].cells.map(\.column) == ["b"])
        let markerOnly = PartitionResult(partitionKey: [1], update: PartitionUpdate(rows: [Row(clustering: c, liveness: .expiring(timestamp: 1, ttl: 10, now: 100))]))
        #expect(markerOnly.live(now: 109, cmp).rows.count == 1)
        #expect(markerOnly.live(now: 110, cmp).rows.isEmpty)
    }
}

@Suite("Encodings")
struct EncodingTests {
    static func sampleMutation() -> Mutation {
        let schema = TestSchemas.wide()
        let c = [TestSchemas.int32(3), Array("k".utf8)]
        var u = PartitionUpdate(partitionDeletion: DeletionTime(markedForDeleteAt: 5, localDeletionTime: 9))
        u.rangeTombstones = [RangeTombstone(start: ClusteringBound([TestSchemas.int32(1)], inclusive: false), end: .unbounded, deletion: DeletionTime(markedForDeleteAt: 6, localDeletionTime: 9))]
        u.staticRow = Row(clustering: [], cells: [.live(column: "s", timestamp: 7, value: [0, 0, 0, 1])])
        u.rows = [Row(clustering: c, liveness: .expiring(timestamp: 8, ttl: 30, now: 1000), deletion: DeletionTime(markedForDeleteAt: 7, localDeletionTime: 9),
                      complexDeletions: [ComplexDeletion(column: "m", deletion: DeletionTime(markedForDeleteAt: 7, localDeletionTime: 9))],
                      cells: [.live(column: "a", timestamp: 8, value: [1, 2, 3, 4], ttl: 60, now: 1000), .tombstone(column: "b", timestamp: 8, deletedAt: 1000),
                              .live(column: "m", path: TestSchemas.int32(1), timestamp: 8, value: Array("one".utf8))])]
        return Mutation(schema: schema, partitionKey: TestSchemas.int32(42), update: u)
    }

    @Test func mutationRoundTrips() throws {
        let m = Self.sampleMutation()
        #expect(try Mutation.decode(m.encoded()) == m)
    }

    @Test func commandsAndResultsRoundTrip() throws {
        let schema = TestSchemas.wide()
        let read = ReadCommand(schema: schema, partitionKey: [1, 2], slices: [ClusteringSlice(start: ClusteringBound([[1]], inclusive: false), end: .unbounded)],
                               columns: ColumnSelection(["a", "s"]), reversed: true, limit: 10, nowSeconds: 12345)
        #expect(try ReadCommand.decode(read.encoded()) == read)
        let scan = TokenScanCommand(schema: schema, range: TokenRange(start: Token(-5), end: Token(77)), after: ScanPosition(token: Token(3), partitionKey: [9], clustering: [[1], [2]]), pageSize: 100, nowSeconds: 1)
        #expect(try TokenScanCommand.decode(scan.encoded()) == scan)
        let m = Self.sampleMutation()
        let result = ScanResult(partitions: [PartitionResult(partitionKey: m.partitionKey, update: m.update)], next: ScanPosition(token: Token(1), partitionKey: [1]))
        #expect(try ScanResult.decode(result.encoded()) == result)
    }

    /// Every truncation and many random corruptions of a valid encoding decode to an error or to
    /// some value, never a crash.
    @Test func malformedInputNeverTraps() {
        let bytes = Self.sampleMutation().encoded()
        for n in 0 ..< bytes.count { _ = try? Mutation.decode(Array(bytes[0 ..< n])) }
        var g = SplitMix64(seed: 11)
        for _ in 0 ..< 3000 {
            var b = bytes
            for _ in 0 ..< Int.random(in: 1 ..< 4, using: &g) { b[Int.random(in: 0 ..< b.count, using: &g)] = UInt8.random(in: 0 ... 255, using: &g) }
            _ = try? Mutation.decode(b)
            _ = try? PartitionResult.decode(b)
            _ = try? ScanResult.decode(b)
            _ = try? ReadCommand.decode(b)
        }
        #expect(throws: DecodeError.self) { try Mutation.decode(Array(bytes.dropLast())) }
    }
}

@Suite("Checksums")
struct ChecksumTests {
    @Test func hardwareAndTableCRC32CAgree() {
        var g = SplitMix64(seed: 3)
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 100, 4096, 4099] {
            let bytes = (0 ..< n).map { _ in UInt8.random(in: 0 ... 255, using: &g) }
            #expect(Checksum.crc32c(bytes) == CRC32C.checksum(bytes))
        }
        #expect(Checksum.crc32c(Array("123456789".utf8)) == 0xE306_9283)
    }
}
