import BasaltCore
import Testing

@testable import BasaltStorage

/// Token scans through partitions wider than a page (what streaming and range queries page
/// through): each page reads about a page of rows from every source, and the pages together are
/// exactly the whole partition, whatever mix of memtable fragments, SSTables with row indexes and
/// deletions holds it.
@Suite("Wide partition scans")
struct WidePartitionScanTests {
    let schema = TestSchemas.wide()
    var cmp: ClusteringComparator { ClusteringComparator(schema) }

    func config() -> StorageConfig {
        var c = StorageConfig()
        c.commitLogSync = .periodic(intervalNanos: 10_000_000)
        c.memtableSizeLimitBytes = 8 << 20
        c.rowIndexBlockBytes = 1 << 10
        c.automaticCompaction = false
        return c
    }

    func clustering(_ i: Int) -> [[UInt8]] { [TestSchemas.int32(i / 3), Array("c\(i % 3)".utf8)] }

    func rowWrite(_ pk: Int, _ i: Int, ts: Int64, value: String) -> Mutation {
        Mutation(schema: schema, partitionKey: TestSchemas.int32(pk), update: PartitionUpdate(rows: [Row(clustering: clustering(i), cells: [
            .live(column: "a", timestamp: ts, value: TestSchemas.int32(i)), .live(column: "b", timestamp: ts, value: Array(value.utf8)),
        ])]))
    }

    /// Every page of a full scan, each partition's pieces reconciled.
    func scanAll(_ e: StorageEngine, pageSize: Int) throws -> (partitions: [[UInt8]: PartitionResult], pages: Int) {
        var merged: [[UInt8]: PartitionResult] = [:]
        var after: ScanPosition?
        var pages = 0
        repeat {
            let page = try e.scan(TokenScanCommand(schema: schema, range: TokenRange(start: .min, end: .min), after: after,
                                                   pageSize: pageSize, nowSeconds: 100))
            var rows = 0
            for p in page.partitions {
                rows += p.update.rows.count
                merged[p.partitionKey] = merged[p.partitionKey].map { PartitionResult.reconcile($0, p, cmp) } ?? p
            }
            #expect(rows <= pageSize)
            after = page.next
            pages += 1
        } while after != nil && pages < 100_000
        #expect(after == nil)
        return (merged, pages)
    }

    @Test func pagesOfWidePartitionsAcrossMemtableAndSSTablesAreTheWholePartitions() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        defer { e.close() }
        var rng = SplitMix64(seed: 11)
        // Three wide partitions and some narrow ones; rows written in four rounds, three of them
        // flushed into SSTables of their own, so every partition has rows in several sources,
        // overwritten, deleted by row and by range, and partly still in memtable fragments.
        for round in 0 ..< 4 {
            for pk in 0 ..< 3 {
                for _ in 0 ..< 400 {
                    let i = Int.random(in: 0 ..< 900, using: &rng)
                    try e.apply(rowWrite(pk, i, ts: Int64(10 + round), value: "r\(round)-\(i)"))
                }
                let d = Int.random(in: 0 ..< 900, using: &rng)
                try e.apply(Mutation(schema: schema, partitionKey: TestSchemas.int32(pk), update: PartitionUpdate(rows: [
                    Row(clustering: clustering(d), deletion: DeletionTime(markedForDeleteAt: Int64(10 + round), localDeletionTime: 50)),
                ])))
                let from = Int.random(in: 0 ..< 300, using: &rng)
                try e.apply(Mutation(schema: schema, partitionKey: TestSchemas.int32(pk), update: PartitionUpdate(rangeTombstones: [
                    RangeTombstone(start: ClusteringBound([TestSchemas.int32(from)], inclusive: true),
                                   end: ClusteringBound([TestSchemas.int32(from + 7)], inclusive: false),
                                   deletion: DeletionTime(markedForDeleteAt: Int64(10 + round), localDeletionTime: 50)),
                ])))
            }
            for pk in 10 ..< 20 { try e.apply(rowWrite(pk, pk, ts: 10, value: "narrow")) }
            if round < 3 { try e.flush(tableId: schema.id) }
        }
        let (whole, _) = try scanAll(e, pageSize: Int.max)
        #expect(whole.count == 13)
        for pageSize in [2, 13, 400] {
            let (paged, pages) = try scanAll(e, pageSize: pageSize)
            #expect(pages > 1)
            #expect(Set(paged.keys) == Set(whole.keys))
            for (key, p) in whole {
                let got = try #require(paged[key])
                #expect(got.live(now: 100, cmp) == p.live(now: 100, cmp), "page size \(pageSize), partition \(key)")
            }
        }
        // And what a point read of each partition answers.
        for (key, p) in whole {
            let read = try e.read(ReadCommand(schema: schema, partitionKey: key, nowSeconds: 100))
            #expect(read.live(now: 100, cmp) == p.live(now: 100, cmp))
        }
    }

    @Test func eachPageOfAWidePartitionReadsAboutAPageOfItsSSTable() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (e, _) = try StorageEngine.open(directory: dir.path, config: config(), tables: [schema], logger: .test)
        defer { e.close() }
        let rows = 20_000
        for i in 0 ..< rows { try e.apply(rowWrite(1, i, ts: 10, value: String(repeating: "v", count: 40))) }
        try e.flush(tableId: schema.id)
        func chunkLookups() -> Int { let c = e.counters; return c.chunkCacheHits + c.chunkCacheMisses }

        var before = chunkLookups()
        let (whole, _) = try scanAll(e, pageSize: Int.max)
        let oneRead = chunkLookups() - before
        #expect(whole.values.first?.update.rows.count == rows)

        before = chunkLookups()
        let (paged, pages) = try scanAll(e, pageSize: 100)
        let pagedReads = chunkLookups() - before
        #expect(pages >= rows / 100)
        #expect(paged.values.first?.live(now: 100, cmp) == whole.values.first?.live(now: 100, cmp))
        // Reading the rest of the partition for every page would look chunks up about pages / 2
        // times as often as one read does (here about 8,000 times); reading a page's worth each
        // time, a few lookups a page (the index entry, the header, runs of row blocks).
        #expect(pagedReads < 2 * oneRead + 16 * pages, "one read \(oneRead) chunk lookups, \(pages) pages \(pagedReads)")
    }

    @Test func decodingFromASliceStepsOverEveryKindOfRowAndStopsAtTheLimit() throws {
        // Rows with every part the encoding has: a TTL marker, a row deletion, collection cells
        // with paths and a complex deletion, cell tombstones, expiring cells.
        var p = PartitionUpdate(partitionDeletion: DeletionTime(markedForDeleteAt: 1, localDeletionTime: 5))
        p.staticRow = Row(clustering: [], cells: [.live(column: "s", timestamp: 3, value: TestSchemas.int32(9))])
        p.rangeTombstones = [RangeTombstone(start: ClusteringBound([TestSchemas.int32(2)], inclusive: true),
                                            end: ClusteringBound([TestSchemas.int32(4)], inclusive: false),
                                            deletion: DeletionTime(markedForDeleteAt: 2, localDeletionTime: 6))]
        for i in 0 ..< 30 {
            var row = Row(clustering: clustering(i))
            switch i % 5 {
            case 0: row.liveness = .expiring(timestamp: 7, ttl: 60, now: 100)
            case 1: row.deletion = DeletionTime(markedForDeleteAt: 8, localDeletionTime: 100)
            case 2:
                row.complexDeletions = [ComplexDeletion(column: "m", deletion: DeletionTime(markedForDeleteAt: 6, localDeletionTime: 100))]
                row.cells = [.live(column: "m", path: TestSchemas.int32(i), timestamp: 7, value: Array("x".utf8))]
            case 3: row.cells = [.tombstone(column: "b", timestamp: 7, deletedAt: 100)]
            default: row.cells = [.live(column: "a", timestamp: 7, value: TestSchemas.int32(i), ttl: 30, now: 100)]
            }
            p.rows.append(row)
        }
        var w = ByteWriter(capacity: 1024)
        StorageCodec.writePartition(p, &w)
        let body = w.bytes
        for from in -1 ..< 30 {
            for limit in [1, 4, 100] {
                let slice = from < 0 ? ClusteringSlice.all : ClusteringSlice(start: ClusteringBound(clustering(from), inclusive: false), end: .unbounded)
                var r = ByteReader(body)
                let got = try StorageCodec.readPartition(&r, slice: slice, rowLimit: limit, cmp)
                var want = p
                want.rows = Array(p.rows.filter { cmp.contains(slice, $0.clustering) }.prefix(limit))
                #expect(got == want, "from \(from), limit \(limit)")
            }
        }
    }
}
