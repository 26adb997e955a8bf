import Synchronization

/// The upper 32 bits of every partition's token in an SSTable, in index order (4 bytes a
/// partition, in memory): a seek learns, without reading the index, a lower bound of the first
/// token at or after any token, so a scan reads only the SSTables that can hold its next keys
/// (docs/storage.md, "Seeks").
struct TokenPrefixIndex: Sendable {
    /// `token >> 32` (arithmetic, so the order of tokens is kept), ascending.
    let prefixes: [Int32]

    var memoryBytes: Int { prefixes.capacity * MemoryLayout<Int32>.stride }

    @inline(__always)
    static func prefix(_ token: Int64) -> Int32 { Int32(truncatingIfNeeded: token >> 32) }

    /// What the SSTable holds at or after `token`.
    enum Bound: Equatable {
        /// No partition at or after `token`.
        case none
        /// Partitions at or after `token` exist and the first of them has a token of at least this.
        /// A bound equal to `token` means the first may be at `token` itself (or before it: only
        /// reading the index can tell).
        case atLeast(Int64)
    }

    /// A lower bound of the first token at or after `token`, by binary search.
    func bound(from token: Int64) -> Bound {
        let p = Self.prefix(token)
        var lo = 0, hi = prefixes.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if prefixes[mid] < p { lo = mid + 1 } else { hi = mid }
        }
        if lo == prefixes.count { return .none }
        let q = prefixes[lo]
        return .atLeast(q == p ? token : Int64(q) << 32)
    }
}

/// The memory all SSTables' ``TokenPrefixIndex``es may take together
/// (`StorageConfig.seekIndexBytesLimit`): an SSTable opened when the budget is spent has none and
/// its seeks read the index as before.
final class SeekIndexBudget: Sendable {
    let limitBytes: Int
    private let used = Atomic<Int>(0)

    init(limitBytes: Int) { self.limitBytes = limitBytes }

    var usedBytes: Int { used.load(ordering: .relaxed) }

    /// Takes `bytes` from the budget if they fit.
    func reserve(_ bytes: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            if current + bytes > limitBytes { return false }
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    func release(_ bytes: Int) { used.subtract(bytes, ordering: .relaxed) }

    /// Corrects a reservation to the bytes actually taken (which may pass the limit slightly).
    func adjust(_ delta: Int) { used.add(delta, ordering: .relaxed) }
}
