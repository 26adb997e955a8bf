/// A compaction to run: which SSTables, and how its output is laid out.
struct CompactionTask: Hashable, Sendable {
    var generations: [Int]
    /// The level the outputs are written at; nil for one above the highest input (size-tiered and
    /// time-window, where levels are informational).
    var outputLevel: Int?
    /// Start a new output once the current one's data file reaches this size; 0 for one output.
    var maxOutputBytes = 0

    /// Whether running it changes anything: merging two or more SSTables, or moving one to
    /// another level.
    var isUseful: Bool { generations.count >= 2 || (generations.count == 1 && outputLevel != nil) }
}

extension CompactionStrategy {
    /// Leveled selection after Cassandra's `LeveledCompactionStrategy` (itself after LevelDB):
    /// level 0 holds flushed SSTables, which may overlap; every level n ≥ 1 holds SSTables of about
    /// `sstableSizeBytes` with disjoint token ranges and at most `fanout`^n × `sstableSizeBytes`
    /// in total. In order of priority:
    /// 1. SSTables of a level ≥ 1 whose ranges overlap (left by another strategy, or by a level
    ///    being filled while the strategy changed) are merged in place, restoring the invariant;
    /// 2. with `l0Threshold` or more SSTables in level 0, the oldest (up to `maxL0`) are merged
    ///    with the level-1 SSTables they overlap into level 1;
    /// 3. the lowest level over its size limit moves its oldest SSTable down, merged with the
    ///    SSTables of the next level it overlaps.
    /// Outputs are cut at `sstableSizeBytes`, so each step rewrites a bounded amount of data.
    static func leveled(_ tables: [CompactionCandidate], sstableSizeBytes: Int, fanout: Int,
                        l0Threshold: Int = 4, maxL0: Int = 32) -> CompactionTask? {
        let size = max(1 << 20, sstableSizeBytes)
        var levels: [Int: [CompactionCandidate]] = [:]
        for t in tables { levels[max(0, t.level), default: []].append(t) }
        func overlaps(_ t: CompactionCandidate, _ lo: Int64, _ hi: Int64) -> Bool { t.minToken <= hi && t.maxToken >= lo }

        for level in levels.keys.sorted() where level >= 1 {
            let run = firstOverlappingRun(levels[level]!)
            if run.count >= 2 { return CompactionTask(generations: run.map(\.generation), outputLevel: level, maxOutputBytes: size) }
        }

        let l0 = (levels[0] ?? []).sorted { $0.generation < $1.generation }
        if l0.count >= max(2, l0Threshold) {
            let chosen = Array(l0.prefix(max(2, maxL0)))
            let lo = chosen.map(\.minToken).min()!, hi = chosen.map(\.maxToken).max()!
            let below = (levels[1] ?? []).filter { overlaps($0, lo, hi) }
            return CompactionTask(generations: (chosen + below).map(\.generation), outputLevel: 1, maxOutputBytes: size)
        }

        var limit = Double(size)
        for level in 1 ... max(1, levels.keys.max() ?? 1) {
            limit *= Double(max(2, fanout))
            guard let members = levels[level], !members.isEmpty else { continue }
            let bytes = members.reduce(0) { $0 + $1.sizeBytes }
            guard Double(bytes) > limit else { continue }
            let pick = members.min { $0.generation < $1.generation }!
            let below = (levels[level + 1] ?? []).filter { overlaps($0, pick.minToken, pick.maxToken) }
            return CompactionTask(generations: ([pick] + below).map(\.generation), outputLevel: level + 1, maxOutputBytes: size)
        }
        return nil
    }

    /// The first maximal group of SSTables (in token order) whose ranges overlap one another
    /// transitively; a single SSTable when none overlap.
    static func firstOverlappingRun(_ tables: [CompactionCandidate]) -> [CompactionCandidate] {
        let sorted = tables.sorted { $0.minToken != $1.minToken ? $0.minToken < $1.minToken : $0.generation < $1.generation }
        var run: [CompactionCandidate] = []
        var end = Int64.min
        for t in sorted {
            if run.isEmpty || t.minToken <= end {
                run.append(t)
                end = max(end, t.maxToken)
            } else {
                if run.count >= 2 { return run }
                run = [t]
                end = t.maxToken
            }
        }
        return run
    }
}
