import BasaltCluster
import BasaltCore
import BasaltProtocol
import BasaltStorage

/// Runs one page of a bound SELECT: partition reads (= / IN on the partition key) or token-range
/// scans in ring order, through a ``RequestCoordinator``, then the live view, filtering,
/// PER PARTITION LIMIT, LIMIT and the page size; returns the rows and where to continue.
struct SelectExecution {
    let query: ReadQuery
    let reader: any RequestCoordinator
    let consistency: ConsistencyLevel
    /// Rows per page; nil for unpaged.
    let pageSize: Int?
    let paging: PagingState?
    let nowSeconds: Int64

    /// Rows of a scan asked for per coordinator round trip.
    static let scanBatchRows = 1000

    struct Page {
        var rows: [[[UInt8]?]]
        var next: PagingState?
    }

    var assembler: RowAssembler { RowAssembler(table: query.table, selection: query.selection, nowSeconds: nowSeconds) }

    func run() async throws(CQLError) -> Page {
        if let ann = query.ann { return try await runANN(ann) }
        if query.isCount {
            var unpaged = SelectExecution(query: query, reader: reader, consistency: consistency, pageSize: nil, paging: nil, nowSeconds: nowSeconds)
            unpaged.countOnly = true
            let all = try await unpaged.collect()
            return Page(rows: [[try? CQLType.bigint.encode(.bigint(Int64(all.rows.count)))]], next: nil)
        }
        return try await collect()
    }

    /// When counting, rows are not materialised beyond their number.
    var countOnly = false

    /// Accumulates emitted rows under the page, LIMIT and per-partition bounds.
    struct Sink {
        var rows: [[[UInt8]?]] = []
        var count = 0
        var quota: Int
        var remaining: Int?
        var perPartition: Int?
        var next: PagingState?
        var done = false
    }

    func collect() async throws(CQLError) -> Page {
        var sink = Sink(quota: pageSize ?? .max, remaining: paging?.remaining ?? query.limit,
                        perPartition: query.distinct ? 1 : query.perPartitionLimit)
        if !query.indexRestrictions.isEmpty {
            try await readIndexed(&sink)
        } else if let keys = query.partitionKeys {
            try await readPartitions(Self.unique(keys), &sink)
        } else {
            try await scanRange(&sink)
        }
        return Page(rows: sink.rows, next: sink.next)
    }

    static func unique(_ keys: [[UInt8]]) -> [[UInt8]] {
        var seen = Set<[UInt8]>()
        return keys.filter { seen.insert($0).inserted }
    }

    // MARK: - Partition reads

    func readPartitions(_ keys: [[UInt8]], _ sink: inout Sink) async throws(CQLError) {
        let cmp = ClusteringComparator(query.table)
        var start = 0
        if let p = paging {
            guard p.kind == .partitions else { throw .protocolError("Invalid paging state: not from this query") }
            start = p.partitionIndex
        }
        var i = start
        while i < keys.count, !sink.done {
            let key = keys[i]
            let resume = (i == start && paging?.partitionKey == key) ? paging : nil
            let slices = Self.restrict(query.slices, after: resume?.clustering, reversed: query.reversed, cmp)
            if !slices.isEmpty {
                let limit = query.filters.isEmpty && query.indexRestrictions.isEmpty ? readLimit(sink, inPartition: resume?.rowsInPartition ?? 0) : .max
                let command = ReadCommand(schema: query.table, partitionKey: key, slices: slices, reversed: query.reversed,
                                          limit: limit, nowSeconds: nowSeconds)
                let result: PartitionResult
                do { result = try await reader.read(command, consistency: consistency) } catch { throw error.cqlError }
                let live = result.live(now: nowSeconds, reversed: query.reversed, limit: limit, cmp)
                try emit(live, token: result.token, allowStaticOnly: resume == nil && query.slices == [.all],
                     inPartition: resume?.rowsInPartition ?? 0, &sink) { src, inPart, remaining in
                    if let clustering = src.row?.clustering {
                        return PagingState(kind: .partitions, partitionIndex: i, token: src.token, partitionKey: key,
                                           clustering: clustering, rowsInPartition: inPart, remaining: remaining)
                    }
                    return PagingState(kind: .partitions, partitionIndex: i + 1, remaining: remaining)
                }
            }
            i += 1
        }
    }

    /// How many live rows one read needs at most.
    func readLimit(_ sink: Sink, inPartition: Int) -> Int {
        var limit = sink.quota
        if let r = sink.remaining { limit = min(limit, r) }
        if let p = sink.perPartition { limit = min(limit, max(0, p - inPartition)) }
        // One more than the page needs tells nothing here; the next page re-reads from the position.
        return max(limit, 1)
    }

    /// The slices left after the row `after` (in the direction of reading).
    static func restrict(_ slices: [ClusteringSlice], after: [[UInt8]]?, reversed: Bool, _ cmp: ClusteringComparator) -> [ClusteringSlice] {
        guard let after else { return slices }
        let bound = ClusteringBound(after, inclusive: false)
        var out = [ClusteringSlice]()
        for var s in slices {
            if reversed {
                if cmp.compareBounds(bound, aIsStart: false, s.end, bIsStart: false) < 0 { s.end = bound }
            } else {
                if cmp.compareBounds(bound, aIsStart: true, s.start, bIsStart: true) > 0 { s.start = bound }
            }
            if cmp.compareBounds(s.start, aIsStart: true, s.end, bIsStart: false) < 0 { out.append(s) }
        }
        return out
    }

    /// Emits a partition's rows into the sink; `position` says where a page ending at a row resumes.
    func emit(_ live: LivePartition, token: Token, allowStaticOnly: Bool, inPartition: Int, _ sink: inout Sink,
              position: (RowAssembler.Source, Int, Int?) -> PagingState) throws(CQLError) {
        let a = assembler
        let checks = IndexRowChecks(query)
        let components = query.table.partitionKeyComponents(live.partitionKey) ?? [live.partitionKey]
        var sources = live.rows.map { RowAssembler.Source(partitionKey: live.partitionKey, keyComponents: components, token: token, row: $0, staticRow: live.staticRow) }
        if sources.isEmpty, allowStaticOnly, live.staticRow != nil {
            sources = [RowAssembler.Source(partitionKey: live.partitionKey, keyComponents: components, token: token, row: nil, staticRow: live.staticRow)]
        }
        var inPart = inPartition
        for src in sources {
            if sink.done { return }
            if let p = sink.perPartition, inPart >= p { return }
            if !query.filters.isEmpty && !a.passes(query.filters, src) { continue }
            if !checks.isEmpty && !checks.passes(src) { continue }
            if countOnly { sink.rows.append([]) } else { sink.rows.append(try a.select(src)) }
            inPart += 1
            sink.count += 1
            if let r = sink.remaining {
                sink.remaining = r - 1
                if r - 1 <= 0 { sink.done = true; sink.next = nil; return }
            }
            sink.quota -= 1
            if sink.quota <= 0 {
                sink.done = true
                sink.next = position(src, inPart, sink.remaining)
                return
            }
        }
    }

    // MARK: - Range scans

    /// The token range the query covers: (start, end], never wrapping (CQL token ranges do not wrap).
    func range() -> TokenRange? {
        var start = Token.min, end = Token.max
        if let t = query.tokenRange {
            if let (lo, inclusive) = t.lower {
                if inclusive { if lo.value == .min { start = .min } else { start = Token(lo.value - 1) } } else { start = lo }
            }
            if let (hi, inclusive) = t.upper {
                if inclusive { end = hi } else { if hi.value == .min { return nil }; end = Token(hi.value - 1) }
            }
        }
        if start >= end { return nil }
        return TokenRange(start: start, end: end)
    }

    func scanRange(_ sink: inout Sink) async throws(CQLError) {
        guard let range = range() else { return }
        let cmp = ClusteringComparator(query.table)
        var after: ScanPosition?
        var inPartitionCarry = 0
        if let p = paging {
            guard p.kind == .scan else { throw .protocolError("Invalid paging state: not from this query") }
            after = ScanPosition(token: p.token, partitionKey: p.partitionKey, clustering: p.clustering)
            inPartitionCarry = p.rowsInPartition
        }
        var lastKey = paging?.partitionKey
        while !sink.done {
            // Rows wanted: the page (and one more, to know whether another page follows), at most
            // what the LIMIT leaves (`LIMIT 1` must not read a thousand rows).
            var batch = max(1, min(Self.scanBatchRows, sink.quota == .max ? Self.scanBatchRows : sink.quota + 1))
            if let remaining = sink.remaining { batch = max(1, min(batch, remaining)) }
            let command = TokenScanCommand(schema: query.table, range: range, after: after, pageSize: batch, nowSeconds: nowSeconds)
            let result: ScanResult
            do { result = try await reader.scan(command, consistency: consistency) } catch { throw error.cqlError }
            for p in result.partitions {
                if sink.done { break }
                let continuing = p.partitionKey == lastKey
                let inPart = continuing ? inPartitionCarry : 0
                var live = p.live(now: nowSeconds, cmp)
                live.rows = live.rows.filter { r in query.slices.contains { cmp.contains($0, r.clustering) } }
                let before = sink.count
                // Without clustering columns a partition is one row: a page ending on it finished
                // the partition (an empty clustering would resume before that row and repeat it).
                let hasClustering = !query.table.clustering.isEmpty
                try emit(live, token: p.token, allowStaticOnly: !continuing && query.slices == [.all], inPartition: inPart, &sink) { src, n, remaining in
                    PagingState(kind: .scan, token: src.token, partitionKey: src.partitionKey, clustering: hasClustering ? src.row?.clustering : nil,
                                rowsInPartition: n, remaining: remaining)
                }
                inPartitionCarry = inPart + (sink.count - before)
                lastKey = p.partitionKey
            }
            guard let next = result.next else { break }
            after = next
        }
    }
}
