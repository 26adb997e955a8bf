import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A lower bound of every partition's token in an SSTable, in index order, in about two bytes a
/// partition (in memory): a seek learns, without reading the index, a lower bound of the first
/// token at or after any token, so a scan reads only the SSTables that can hold its next keys
/// (docs/storage.md, "Seeks").
///
/// Tokens are taken in unsigned order (sign bit flipped). Their top `bucketBits` bits pick a
/// bucket (about 32 to 64 partitions each); `starts[b]` is the first entry of bucket `b` and
/// `lows[i]` holds the 16 bits after the bucket bits of entry `i`'s token. So every entry keeps its
/// token's top `bucketBits + 16` bits, about 11 more than log2 of the partition count (28 for a
/// flushed memtable of 140,000 partitions): a probe shares them with one of the partitions about
/// once in 2,000.
struct TokenPrefixIndex: Sendable {
    let bucketBits: Int
    /// `1 << bucketBits` + 1 entries; `starts[b] ..< starts[b + 1]` are bucket `b`'s entries.
    let starts: [UInt32]
    let lows: [UInt16]

    var memoryBytes: Int { starts.capacity * MemoryLayout<UInt32>.stride + lows.capacity * MemoryLayout<UInt16>.stride }

    /// Bucket bits for about `partitions` entries: buckets of 32 to 64 of them.
    static func bucketBits(forPartitions partitions: Int) -> Int {
        var bits = 0
        while bits < 32 && (partitions >> (bits + 5)) > 1 { bits += 1 }
        return bits
    }

    /// The memory an index of `partitions` entries takes.
    static func memoryBytes(forPartitions partitions: Int) -> Int {
        ((1 << bucketBits(forPartitions: partitions)) + 1) * MemoryLayout<UInt32>.stride + partitions * MemoryLayout<UInt16>.stride
    }

    /// Builds the index from tokens in ascending order, for about `expectedPartitions` of them
    /// (which only sizes the buckets).
    struct Builder {
        let bucketBits: Int
        private var starts: [UInt32]
        private var lows: [UInt16] = []
        private var bucket = 0
        private var last: Int64 = .min

        init(expectedPartitions: Int) {
            bucketBits = TokenPrefixIndex.bucketBits(forPartitions: expectedPartitions)
            starts = [0]
            starts.reserveCapacity((1 << bucketBits) + 1)
            lows.reserveCapacity(expectedPartitions)
        }

        /// Adds the next token; false when it is below the previous one.
        mutating func append(_ token: Int64) -> Bool {
            if token < last { return false }
            last = token
            let (b, low) = TokenPrefixIndex.split(token, bucketBits)
            // Buckets up to this one start here.
            while bucket < b {
                starts.append(UInt32(lows.count))
                bucket += 1
            }
            lows.append(low)
            return true
        }

        mutating func finish() -> TokenPrefixIndex {
            while starts.count < (1 << bucketBits) + 1 { starts.append(UInt32(lows.count)) }
            return TokenPrefixIndex(bucketBits: bucketBits, starts: starts, lows: lows)
        }
    }

    @inline(__always)
    static func split(_ token: Int64, _ bucketBits: Int) -> (bucket: Int, low: UInt16) {
        let u = UInt64(bitPattern: token) ^ (1 << 63)
        return (Int(u >> UInt64(64 - bucketBits)), UInt16(truncatingIfNeeded: u >> UInt64(48 - bucketBits)))
    }

    /// The smallest token whose top bits are `bucket` and `low`.
    @inline(__always)
    private func token(bucket: Int, low: UInt16) -> Int64 {
        Int64(bitPattern: ((UInt64(bucket) << 16 | UInt64(low)) << UInt64(48 - bucketBits)) ^ (1 << 63))
    }

    var count: Int { lows.count }

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
        if lows.isEmpty { return .none }
        let (b, low) = Self.split(token, bucketBits)
        var lo = Int(starts[b]), hi = Int(starts[b + 1])
        while lo < hi {
            let mid = (lo + hi) >> 1
            if lows[mid] < low { lo = mid + 1 } else { hi = mid }
        }
        if lo < Int(starts[b + 1]) {
            return .atLeast(lows[lo] == low ? token : self.token(bucket: b, low: lows[lo]))
        }
        if lo == lows.count { return .none }
        // Entry `lo` opens a later bucket: the last bucket starting at or before it.
        var l = b + 1, h = starts.count - 2
        while l < h {
            let mid = (l + h + 1) >> 1
            if Int(starts[mid]) <= lo { l = mid } else { h = mid - 1 }
        }
        return .atLeast(self.token(bucket: l, low: lows[lo]))
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
