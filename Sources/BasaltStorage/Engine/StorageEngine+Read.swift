import BasaltCore

extension StorageEngine {
    /// Reads one partition: memtables and SSTables merged, restricted to the command's slices,
    /// columns and row limit, in the unfiltered shape (see ``PartitionResult``). Synchronous.
    /// A damaged SSTable met on the way is quarantined and the read is answered from the rest.
    public func read(_ cmd: ReadCommand) throws -> PartitionResult {
        let t = try table(cmd.tableId)
        metrics.add(metrics.reads, 1)
        let started = clock.monotonicNanos()
        let result = try readCounted(t, cmd)
        t.histograms.readLatency.recordElapsed(since: started, now: clock.monotonicNanos())
        var cells = 0
        for r in result.update.rows { cells += r.cells.count }
        t.histograms.cellsPerRead.record(UInt64(cells))
        return result
    }

    private func readCounted(_ t: TableStore, _ cmd: ReadCommand) throws -> PartitionResult {
        let (schema, cmp) = t.currentSchema
        if cmd.limit < Int.max, cmd.slices.count == 1, let r = try readPrefix(t, cmd, schema, cmp) { return r }
        let merged = try readMerged(t, key: cmd.partitionKey, slices: cmd.slices, cmp, countsTouched: true)
        let clean = merged.update.withoutDroppedColumns(schema.droppedColumns)
        let filtered = clean.filtered(slices: cmd.slices, columns: cmd.columns, reversed: cmd.reversed, limit: cmd.limit, now: cmd.nowSeconds, cmp)
        return PartitionResult(partitionKey: cmd.partitionKey, token: merged.token, update: filtered)
    }

    /// A limited read of a large partition: reads a growing prefix (or suffix, when reversed) of
    /// the slice, cut at row-index block boundaries, from every source, until it holds `limit` live
    /// rows. The part read is complete in every source, so when it holds enough live rows the
    /// answer equals that of reading the whole slice. Nil when the partition has no row index to
    /// cut at, or the whole slice was needed.
    func readPrefix(_ t: TableStore, _ cmd: ReadCommand, _ schema: TableSchema, _ cmp: ClusteringComparator) throws -> PartitionResult? {
        let slice = cmd.slices[0]
        let token = Murmur3.token(cmd.partitionKey).value
        let hash = cmd.partitionKey.withUnsafeBytes { Murmur3.hash128($0) }
        var cuts: [[[UInt8]]] = []
        for s in t.view.sstables where token >= s.stats.minToken && token <= s.stats.maxToken && s.mightContain(hash) {
            guard let ri = try? s.rowIndex(token: token, key: cmd.partitionKey), ri.offsets.count > cuts.count else { continue }
            cuts = ri.firstClusterings
        }
        // Candidate cut points strictly inside the slice, in the direction of reading.
        cuts = cuts.filter { cmp.isAfter($0, start: slice.start) && cmp.isBefore($0, end: slice.end) }
        if cmd.reversed { cuts.reverse() }
        guard cuts.count >= 4 else { return nil }
        var k = 2
        while k < cuts.count {
            let cut = cuts[k]
            let part = cmd.reversed
                ? ClusteringSlice(start: ClusteringBound(cut, inclusive: true), end: slice.end)
                : ClusteringSlice(start: slice.start, end: ClusteringBound(cut, inclusive: false))
            let merged = try readMerged(t, key: cmd.partitionKey, slices: [part], cmp, countsTouched: true)
            let filtered = merged.update.withoutDroppedColumns(schema.droppedColumns)
                .filtered(slices: [part], columns: cmd.columns, reversed: cmd.reversed, limit: cmd.limit, now: cmd.nowSeconds, cmp)
            var live = 0
            for r in filtered.rows where r.isLive(now: cmd.nowSeconds) { live += 1 }
            if live >= cmd.limit {
                // Rows, and range tombstones (cut at the last row returned by `filtered`), are those
                // a read of the whole slice returns.
                return PartitionResult(partitionKey: cmd.partitionKey, token: merged.token, update: filtered)
            }
            k *= 4
        }
        return nil
    }

    /// A partition from every source, merged: whole, or at least the rows of `slices` (SSTables
    /// with a row index decode only the blocks that can hold them).
    /// With `countsTouched`, the SSTables read are recorded in the table's SSTables-per-read histogram.
    func readMerged(_ t: TableStore, key: [UInt8], slices: [ClusteringSlice] = [.all], _ cmp: ClusteringComparator,
                    countsTouched: Bool = false) throws -> PartitionResult {
        try readMerged(t, key: key, slices: slices, rowLimit: .max, cmp, countsTouched: countsTouched).result
    }

    /// ``readMerged(_:key:slices:_:countsTouched:)`` reading no further in any source than its
    /// first `rowLimit` rows of the one forward slice, and one more to know whether there are more
    /// (`rowLimit` below `Int.max` needs exactly one slice). The merge is exact through
    /// `completeThrough`, the earliest clustering at which a source with more rows was cut, and
    /// holds no rows after it; nil when every source gave all its rows of the slice. At least
    /// `rowLimit` merged rows lie at or before `completeThrough`.
    func readMerged(_ t: TableStore, key: [UInt8], slices: [ClusteringSlice], rowLimit: Int, _ cmp: ClusteringComparator,
                    countsTouched: Bool = false) throws -> (result: PartitionResult, completeThrough: [[UInt8]]?) {
        precondition(rowLimit == .max || slices.count == 1, "a row limit needs one slice")
        let hash = key.withUnsafeBytes { Murmur3.hash128($0) }
        let h0 = Int64(bitPattern: hash.0)
        let token = h0 == .min ? Int64.max : h0
        // Each source reads one row past the limit, to say whether it has more. Memtable
        // fragments read by slice step over the rows before it and stop after it.
        let sourceLimit = rowLimit == .max ? Int.max : rowLimit + 1
        let bySlice = rowLimit < .max || (slices.count == 1 && slices[0] != .all)
        retry: while true {
            let v = t.view
            var parts: [PartitionUpdate] = []
            var touched: UInt64 = 0
            for m in v.memtables {
                let p = bySlice ? try m.read(token: token, key: key, slice: slices[0], rowLimit: sourceLimit, cmp)
                    : try m.read(token: token, key: key, cmp)
                if let p { parts.append(p) }
            }
            for s in v.sstables {
                if token < s.stats.minToken || token > s.stats.maxToken { continue }
                if !s.mightContain(hash) {
                    metrics.add(metrics.bloomNegatives, 1)
                    continue
                }
                touched += 1
                do {
                    if let p = try s.read(token: token, key: key, slices: slices, cmp, rowLimit: sourceLimit) {
                        metrics.add(metrics.bloomHits, 1)
                        parts.append(p)
                    } else {
                        metrics.add(metrics.bloomFalsePositives, 1)
                    }
                } catch let e as StorageError {
                    if case .corrupt = e {
                        if t.quarantine(s, e) { noteQuarantined(e) }
                        continue retry
                    }
                    throw e
                }
            }
            var through: [[UInt8]]?
            if rowLimit < .max {
                // A source without a row index gave its whole partition. One that has more than
                // `rowLimit` rows of the slice is cut after its `rowLimit`-th, and holds more beyond it.
                for i in parts.indices {
                    parts[i].rows.removeAll { !cmp.contains(slices[0], $0.clustering) }
                    guard parts[i].rows.count > rowLimit else { continue }
                    parts[i].rows.removeLast(parts[i].rows.count - rowLimit)
                    let last = parts[i].rows[rowLimit - 1].clustering
                    if through.map({ cmp.compare(last, $0) < 0 }) ?? true { through = last }
                }
            }
            var update: PartitionUpdate = parts.count == 1 ? parts[0] : PartitionUpdate.merge(parts, cmp)
            if let through { update.rows.removeAll { cmp.compare($0.clustering, through) > 0 } }
            if countsTouched { t.histograms.sstablesPerRead.record(touched) }
            return (PartitionResult(partitionKey: key, token: Token(token), update: update), through)
        }
    }

    /// A page of a token-range scan (see ``TokenScanCommand``). Synchronous.
    public func scan(_ cmd: TokenScanCommand) throws -> ScanResult {
        let t = try table(cmd.tableId)
        metrics.add(metrics.scans, 1)
        let (schema, cmp) = t.currentSchema
        var budget = max(1, cmd.pageSize)
        var out: [PartitionResult] = []
        var position = cmd.after

        /// Adds the partition's rows after `startAfter` (all when nil) to the page, as many as the
        /// budget allows; false when the page is full.
        func emit(_ key: [UInt8], token: Int64, startAfter: [[UInt8]]?) throws -> Bool {
            // A wide partition is read in parts of at most the budget's rows from each source, so
            // that every page of it decodes about a page of rows, not the rest of the partition.
            var update = PartitionUpdate()
            var from = startAfter
            var first = true
            var more = false
            while true {
                var slice = ClusteringSlice.all
                if let c = from { slice = ClusteringSlice(start: ClusteringBound(c, inclusive: false), end: .unbounded) }
                let (merged, through) = try readMerged(t, key: key, slices: [slice], rowLimit: budget - update.rows.count, cmp)
                let part = merged.update.withoutDroppedColumns(schema.droppedColumns)
                    .filtered(slices: [slice], columns: cmd.columns, reversed: false, limit: .max, now: cmd.nowSeconds, cmp)
                if first {
                    update = part
                    first = false
                } else {
                    update.rows += part.rows
                    for rt in part.rangeTombstones where !update.rangeTombstones.contains(rt) { update.rangeTombstones.append(rt) }
                }
                more = through != nil
                guard let through, update.rows.count < budget else { break }
                from = through
            }
            if startAfter != nil { update.partitionDeletion = nil; update.staticRow = nil }
            if update.isEmpty {
                position = ScanPosition(token: Token(token), partitionKey: key)
                return budget > 0
            }
            if update.rows.count > budget || (more && update.rows.count == budget) {
                update.rows.removeLast(update.rows.count - budget)
                out.append(PartitionResult(partitionKey: key, token: Token(token), update: update))
                position = ScanPosition(token: Token(token), partitionKey: key, clustering: update.rows.last?.clustering)
                budget = 0
                return false
            }
            out.append(PartitionResult(partitionKey: key, token: Token(token), update: update))
            budget -= max(1, update.rows.count)
            position = ScanPosition(token: Token(token), partitionKey: key)
            return budget > 0
        }

        for piece in cmd.range.unwrapped {
            let endToken: Int64? = piece.end == .min ? nil : piece.end.value
            // Where this piece starts: after the caller's position when it lies inside the piece.
            var after: (Int64, [UInt8]?) = (piece.start.value, nil)
            if let p = position {
                let inPiece = p.token > piece.start && (endToken == nil || p.token.value <= endToken!)
                if p.token > piece.start && !inPiece { continue }
                if inPiece {
                    if let c = p.clustering {
                        if !(try emit(p.partitionKey, token: p.token.value, startAfter: c)) { return ScanResult(partitions: out, next: position) }
                    }
                    after = (p.token.value, p.partitionKey)
                }
            }
            while budget > 0 {
                let keys = try nextKeys(t, after: after, endToken: endToken, limit: budget)
                if keys.isEmpty { break }
                for (token, key) in keys {
                    after = (token, key)
                    if !(try emit(key, token: token, startAfter: nil)) { return ScanResult(partitions: out, next: position) }
                }
            }
        }
        return ScanResult(partitions: out, next: nil)
    }

    /// The next `limit` distinct keys across all sources strictly after `after` (a nil key means
    /// after every key of that token) with token at most `endToken`.
    func nextKeys(_ t: TableStore, after: (Int64, [UInt8]?), endToken: Int64?, limit: Int) throws -> [(Int64, [UInt8])] {
        // "After every key of token T" is "from (T + 1, empty key) inclusive".
        let probe: (Int64, [UInt8])
        let inclusive = after.1 == nil
        if let k = after.1 {
            probe = (after.0, k)
        } else {
            if after.0 == .max { return [] }
            probe = (after.0 + 1, [])
        }
        let v = t.view
        var all: [(Int64, [UInt8])] = []
        for m in v.memtables { all += m.keys(after: probe, inclusive: inclusive, endToken: endToken, limit: limit) }
        // SSTables whose token-prefix index says their first key after the probe has a token of at
        // least some bound above it wait, smallest bound first, and are read only while the keys
        // found so far leave room below their bound (usually the one SSTable holding the next key is
        // read, not all of them).
        var deferred: [(bound: Int64, sstable: SSTableReader)] = []
        var read: [SSTableReader] = []
        requestSeekIndexes(t, v.sstables)
        for s in v.sstables {
            switch s.prefixIndex?.bound(from: probe.0) {
            case .none?: continue
            case let .atLeast(b)?:
                if let e = endToken, b > e { continue }
                if b > probe.0 { deferred.append((b, s)) } else { read.append(s) }
            case nil: read.append(s)
            }
        }
        deferred.sort { $0.bound < $1.bound }
        var next = deferred.startIndex
        while true {
            for s in read {
                do {
                    all += try s.keys(after: probe, inclusive: inclusive, endToken: endToken, limit: limit)
                } catch let e as StorageError {
                    if case .corrupt = e, t.quarantine(s, e) { noteQuarantined(e) }
                    return try nextKeys(t, after: after, endToken: endToken, limit: limit)
                }
            }
            all = Self.smallestDistinct(all, limit)
            guard next < deferred.endIndex else { break }
            // Every key of a deferred SSTable has a token of at least its bound.
            if all.count == limit, let last = all.last, last.0 < deferred[next].bound { break }
            read = [deferred[next].sstable]
            next += 1
        }
        return all
    }

    /// Seek indexes are built for the tables that are sought: a table's first seek marks it (so
    /// flushes and compactions give their outputs one from then on) and has each of its SSTables
    /// without one build it in the background; seeks read those SSTables' indexes meanwhile. A
    /// table only read by key never holds them (about 2 bytes a partition per SSTable).
    func requestSeekIndexes(_ t: TableStore, _ sstables: [SSTableReader]) {
        if !t.sought.load(ordering: .relaxed) { t.sought.store(true, ordering: .relaxed) }
        for s in sstables where s.requestSeekIndex() {
            indexExecutor.submit { [logger] in
                do { try s.loadDeferredParts(withSeekIndex: true) } catch {
                    logger.warning("seek index not built; seeks read the SSTable's index", metadata: ["sstable": "\(s.descriptor.path(.data))", "error": "\(error)"])
                }
            }
        }
    }

    /// The `limit` smallest distinct keys of `keys`, in order.
    static func smallestDistinct(_ keys: [(Int64, [UInt8])], _ limit: Int) -> [(Int64, [UInt8])] {
        let sorted = keys.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1.lexicographicallyPrecedes($1.1) }
        var out: [(Int64, [UInt8])] = []
        for k in sorted where out.last.map({ $0.0 != k.0 || $0.1 != k.1 }) ?? true {
            out.append(k)
            if out.count == limit { break }
        }
        return out
    }
}
