import BasaltCore

/// What a compaction strategy sees of an SSTable.
struct CompactionCandidate: Hashable, Sendable {
    var generation: Int
    var sizeBytes: Int
    var maxTimestamp: Int64
    /// The level the SSTable was written at (0 for a flush; leveled compaction places outputs).
    var level = 0
    var minToken = Int64.min
    var maxToken = Int64.max
}

extension SSTableReader {
    var compactionCandidate: CompactionCandidate {
        CompactionCandidate(generation: descriptor.generation, sizeBytes: sizeOnDisk, maxTimestamp: stats.maxTimestamp,
                            level: stats.level, minToken: stats.minToken, maxToken: stats.maxToken)
    }
}

/// Choosing which SSTables to merge next: pure functions over sizes and timestamps, no I/O.
enum CompactionStrategy {
    /// Size-tiered selection as Cassandra's `SizeTieredCompactionStrategy` does it: SSTables are
    /// bucketed by size (an SSTable joins a bucket whose average size is within [0.5, 1.5] of its own,
    /// or when both are below `minSSTableSize`); a bucket with at least `minThreshold` members is
    /// compacted, its smallest `maxThreshold` members at most. Among eligible buckets the one with
    /// the smallest average size goes first (cheapest, and it reduces the SSTable count most).
    static func sizeTiered(_ tables: [CompactionCandidate], minThreshold: Int, maxThreshold: Int,
                           bucketLow: Double = 0.5, bucketHigh: Double = 1.5, minSSTableSize: Int = 50 << 20) -> [Int]? {
        let minT = max(2, minThreshold)
        let maxT = max(minT, maxThreshold)
        let sorted = tables.sorted { $0.sizeBytes != $1.sizeBytes ? $0.sizeBytes < $1.sizeBytes : $0.generation < $1.generation }
        var buckets: [(avg: Double, members: [CompactionCandidate])] = []
        for t in sorted {
            let size = Double(t.sizeBytes)
            if let k = buckets.firstIndex(where: { b in
                (size >= b.avg * bucketLow && size <= b.avg * bucketHigh) || (t.sizeBytes < minSSTableSize && b.avg < Double(minSSTableSize))
            }) {
                let n = Double(buckets[k].members.count)
                buckets[k].avg = (buckets[k].avg * n + size) / (n + 1)
                buckets[k].members.append(t)
            } else {
                buckets.append((size, [t]))
            }
        }
        let eligible = buckets.filter { $0.members.count >= minT }.sorted { $0.avg < $1.avg }
        guard let best = eligible.first else { return nil }
        return best.members.prefix(maxT).map(\.generation)
    }

    /// Time-window selection as Cassandra's `TimeWindowCompactionStrategy`: SSTables are grouped by
    /// the window of their newest write; within the newest window, size-tiered rules apply; any
    /// older window holding two or more SSTables is compacted into one.
    static func timeWindow(_ tables: [CompactionCandidate], windowSeconds: Int, minThreshold: Int, maxThreshold: Int) -> [Int]? {
        let windowMicros = Int64(max(1, windowSeconds)) * 1_000_000
        var windows: [Int64: [CompactionCandidate]] = [:]
        for t in tables {
            let w = t.maxTimestamp == .min ? Int64.min : floorDiv(t.maxTimestamp, windowMicros)
            windows[w, default: []].append(t)
        }
        let keys = windows.keys.sorted(by: >)
        guard let newest = keys.first else { return nil }
        if let pick = sizeTiered(windows[newest]!, minThreshold: minThreshold, maxThreshold: maxThreshold) { return pick }
        for k in keys.dropFirst() {
            let members = windows[k]!
            if members.count >= 2 {
                return members.sorted { $0.sizeBytes < $1.sizeBytes }.prefix(max(2, maxThreshold)).map(\.generation)
            }
        }
        return nil
    }

    /// Groups for a major compaction: everything at once, or one group per time window.
    static func major(_ tables: [CompactionCandidate], params: CompactionParams) -> [[Int]] {
        switch params {
        case .sizeTiered:
            return tables.count >= 2 ? [tables.map(\.generation)] : []
        case let .timeWindow(windowSeconds, _, _):
            let windowMicros = Int64(max(1, windowSeconds)) * 1_000_000
            var windows: [Int64: [Int]] = [:]
            for t in tables { windows[floorDiv(t.maxTimestamp == .min ? 0 : t.maxTimestamp, windowMicros), default: []].append(t.generation) }
            return windows.values.filter { $0.count >= 2 }.map { $0.sorted() }
        case .leveled:
            return tables.isEmpty ? [] : [tables.map(\.generation)]
        }
    }

    static func select(_ tables: [CompactionCandidate], params: CompactionParams) -> [Int]? {
        plan(tables, params: params)?.generations
    }

    /// The next compaction the table's strategy wants among `tables` (none of them compacting).
    static func plan(_ tables: [CompactionCandidate], params: CompactionParams) -> CompactionTask? {
        let task: CompactionTask?
        switch params {
        case let .sizeTiered(minT, maxT):
            task = sizeTiered(tables, minThreshold: minT, maxThreshold: maxT).map { CompactionTask(generations: $0) }
        case let .timeWindow(w, minT, maxT):
            task = timeWindow(tables, windowSeconds: w, minThreshold: minT, maxThreshold: maxT).map { CompactionTask(generations: $0) }
        case let .leveled(sizeMiB, fanout):
            task = leveled(tables, sstableSizeBytes: sizeMiB << 20, fanout: fanout)
        }
        return task.flatMap { $0.isUseful ? $0 : nil }
    }

    /// How many disjoint selections `select` makes in a row (an estimate of the compaction debt;
    /// it ignores that each compaction's output may itself become eligible).
    static func pendingCount(_ tables: [CompactionCandidate], params: CompactionParams) -> Int {
        var rest = tables
        var n = 0
        while n < 100, let task = plan(rest, params: params) {
            let picked = Set(task.generations)
            rest.removeAll { picked.contains($0.generation) }
            n += 1
        }
        return n
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
