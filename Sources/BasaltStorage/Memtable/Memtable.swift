import BasaltCore
import CPrefetch

/// The in-memory, sorted write buffer of one table.
///
/// Partitions are kept in a skiplist ordered by (token, key bytes) after Pugh, "Skip Lists: A
/// Probabilistic Alternative to Balanced Trees" (CACM 1990), with p = 1/4. Nodes, keys and partition
/// fragments all live in a ``MemtableArena`` and link to each other with raw pointers, so a search
/// touches one cache line per visited node and nothing is reference-counted. A write copies the
/// already-encoded partition body (the bytes the commit log got) into the arena and links it in
/// front of the partition's earlier fragments: no per-write heap allocation. Reads decode and merge a
/// partition's fragments; a partition's newest fragments are merged into one as they accumulate
/// (see `collapse`). Beside the
/// skiplist, an open-addressing hash table from token to node answers point lookups (reads, and
/// writes to partitions already present) in about one cache miss; the skiplist serves ordered scans
/// and flushes.
///
/// Thread safety: one writer at a time (the table's write lock) and concurrent readers, through an
/// internal readers-writer lock.
final class Memtable: @unchecked Sendable {
    // @unchecked: the arena and the skiplist are guarded by `lock`; the commit-log bounds are set
    // under the owning table's write lock before the memtable is handed to a flush.

    // Node layout (byte offsets): token Int64 @0, newest fragment @8, fragment count Int32 @16,
    // height Int32 @20, key length Int32 @24, links (height pointers) @32, then the key bytes.
    // Fragment layout: previous fragment @0, body length UInt32 @8, body @16.
    static let maxHeight = 16
    static let collapseThreshold: Int32 = 8
    static let linksOffset = 32
    static let fragmentHeader = 16

    let id: Int
    /// The table's truncation epoch when the memtable was created; a flush publishes only if the
    /// table was not truncated since.
    let epoch: Int
    let lock = ReadWriteLock()
    private var arena = MemtableArena()
    private let head: UnsafeMutableRawPointer
    /// Scratch for insertions: the predecessor at every level (fixed memory, no exclusivity checks).
    private let preds: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private var height = 1
    private var count = 0
    private var rng: UInt64
    /// Commit-log positions of the writes it holds: `[lower, upper)`; `upper` is set on switch.
    let commitLogLower: CommitLogPosition
    var commitLogUpper: CommitLogPosition?
    private var lowestTimestamp = Int64.max
    private var highestTimestamp = Int64.min
    private var tombstoneCount = 0
    /// Hash index: `slotCapacity` pairs of (token, node pointer; 0 when empty), linear probing,
    /// grown at half full.
    private var slots: UnsafeMutablePointer<UInt>
    private var slotCapacity = 64
    /// Bytes counted against the engine's memtable memory when it was frozen (released once its
    /// flush is done).
    var accountedBytes = 0
    /// Extra commit-log ranges whose records it holds (replayed from an earlier process).
    var replayedIntervals: [CommitLogInterval] = []

    init(id: Int, epoch: Int = 0, commitLogLower: CommitLogPosition) {
        self.id = id
        self.epoch = epoch
        self.commitLogLower = commitLogLower
        rng = 0x9E37_79B9_7F4A_7C15 &* UInt64(truncatingIfNeeded: id &+ 1)
        slots = .allocate(capacity: 2 * 64)
        slots.initialize(repeating: 0, count: 2 * 64)
        preds = .allocate(capacity: Self.maxHeight)
        preds.initialize(repeating: nil, count: Self.maxHeight)
        head = arena.allocate(Self.linksOffset + 8 * Self.maxHeight)
        head.initializeMemory(as: UInt8.self, repeating: 0, count: Self.linksOffset + 8 * Self.maxHeight)
        head.storeBytes(of: Int32(Self.maxHeight), toByteOffset: 20, as: Int32.self)
    }

    deinit {
        arena.free()
        preds.deallocate()
        slots.deallocate()
    }

    // MARK: hash index

    @inline(__always)
    private func slot(for token: Int64) -> Int {
        Int(truncatingIfNeeded: (UInt64(bitPattern: token) &* 0x9E37_79B9_7F4A_7C15) >> 32) & (slotCapacity - 1)
    }

    /// The node for a key, through the hash index.
    @inline(__always)
    private func lookup(_ token: Int64, _ key: UnsafeRawBufferPointer) -> UnsafeMutableRawPointer? {
        var i = slot(for: token)
        let t = UInt(bitPattern: Int(token))
        while true {
            let p = slots[2 * i + 1]
            if p == 0 { return nil }
            if slots[2 * i] == t, let n = UnsafeMutableRawPointer(bitPattern: p), CQLType.compareUnsigned(Self.key(n), key) == 0 { return n }
            i = (i + 1) & (slotCapacity - 1)
        }
    }

    private func indexInsert(_ token: Int64, _ node: UnsafeMutableRawPointer) {
        if 2 * (count + 1) > slotCapacity { growIndex() }
        var i = slot(for: token)
        while slots[2 * i + 1] != 0 { i = (i + 1) & (slotCapacity - 1) }
        slots[2 * i] = UInt(bitPattern: Int(token))
        slots[2 * i + 1] = UInt(bitPattern: node)
    }

    private func growIndex() {
        let old = slots, oldCapacity = slotCapacity
        slotCapacity *= 2
        slots = .allocate(capacity: 2 * slotCapacity)
        slots.initialize(repeating: 0, count: 2 * slotCapacity)
        for j in 0 ..< oldCapacity where old[2 * j + 1] != 0 {
            var i = slot(for: Int64(bitPattern: UInt64(old[2 * j])))
            while slots[2 * i + 1] != 0 { i = (i + 1) & (slotCapacity - 1) }
            slots[2 * i] = old[2 * j]
            slots[2 * i + 1] = old[2 * j + 1]
        }
        old.deallocate()
    }

    var minTimestamp: Int64 { lock.withReadLock { lowestTimestamp } }
    var maxTimestamp: Int64 { lock.withReadLock { highestTimestamp } }
    var tombstones: Int { lock.withReadLock { tombstoneCount } }
    var partitionCount: Int { lock.withReadLock { count } }
    var isEmpty: Bool { partitionCount == 0 }
    /// Approximate memory held, for the flush threshold.
    var sizeBytes: Int { lock.withReadLock { arena.usedBytes + 16 * slotCapacity } }

    // MARK: node access

    @inline(__always) private static func token(_ n: UnsafeMutableRawPointer) -> Int64 { n.load(as: Int64.self) }
    @inline(__always) private static func next(_ n: UnsafeMutableRawPointer, _ level: Int) -> UnsafeMutableRawPointer? {
        UnsafeMutableRawPointer(bitPattern: n.load(fromByteOffset: linksOffset + 8 * level, as: UInt.self))
    }
    @inline(__always) private static func setNext(_ n: UnsafeMutableRawPointer, _ level: Int, _ to: UnsafeMutableRawPointer?) {
        n.storeBytes(of: UInt(bitPattern: to), toByteOffset: linksOffset + 8 * level, as: UInt.self)
    }
    @inline(__always) private static func nodeHeight(_ n: UnsafeMutableRawPointer) -> Int { Int(n.load(fromByteOffset: 20, as: Int32.self)) }
    @inline(__always) private static func key(_ n: UnsafeMutableRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: n + linksOffset + 8 * nodeHeight(n), count: Int(n.load(fromByteOffset: 24, as: Int32.self)))
    }
    @inline(__always) private static func newestFragment(_ n: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        UnsafeMutableRawPointer(bitPattern: n.load(fromByteOffset: 8, as: UInt.self))
    }
    @inline(__always) private static func fragmentCount(_ n: UnsafeMutableRawPointer) -> Int32 { n.load(fromByteOffset: 16, as: Int32.self) }

    /// (token, key) order of a node against a probe: negative when the node sorts first.
    @inline(__always)
    private static func compare(_ n: UnsafeMutableRawPointer, _ token: Int64, _ key: UnsafeRawBufferPointer) -> Int {
        let t = Self.token(n)
        if t != token { return t < token ? -1 : 1 }
        return CQLType.compareUnsigned(Self.key(n), key)
    }

    /// Fills `preds` with the last node before the probe at every level; returns the first node at
    /// or after it.
    @inline(__always)
    private func findPredecessors(_ token: Int64, _ key: UnsafeRawBufferPointer) -> UnsafeMutableRawPointer? {
        var x = head
        var level = height - 1
        let p = preds
        while level >= 0 {
            while let n = Self.next(x, level), Self.compare(n, token, key) < 0 { x = n }
            p[level] = x
            level -= 1
        }
        return Self.next(x, 0)
    }

    /// The first node at or after the probe (read-only search, no `preds`).
    @inline(__always)
    private func seek(_ token: Int64, _ key: UnsafeRawBufferPointer) -> UnsafeMutableRawPointer? {
        var x = head
        var level = height - 1
        while level >= 0 {
            while let n = Self.next(x, level), Self.compare(n, token, key) < 0 { x = n }
            level -= 1
        }
        return Self.next(x, 0)
    }

    private func randomHeight() -> Int {
        rng ^= rng << 13
        rng ^= rng >> 7
        rng ^= rng << 17
        var h = 1
        var r = rng
        while h < Self.maxHeight && r & 3 == 0 {
            h += 1
            r >>= 2
        }
        return h
    }

    // MARK: writes

    /// Adds an encoded partition body for `key`; returns the memtable's approximate size. The caller
    /// holds the table's write lock.
    @discardableResult
    func apply(token: Int64, key: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer, minTimestamp lo: Int64, maxTimestamp hi: Int64, tombstones t: Int, _ cmp: ClusteringComparator) -> Int {
        lock.withWriteLock {
            if let n = lookup(token, key) {
                let f = writeFragment(body, previous: Self.newestFragment(n))
                n.storeBytes(of: UInt(bitPattern: f), toByteOffset: 8, as: UInt.self)
                let c = Self.fragmentCount(n) + 1
                n.storeBytes(of: c, toByteOffset: 16, as: Int32.self)
                if c >= Self.collapseThreshold { collapse(n, cmp) }
            } else {
                _ = findPredecessors(token, key)
                insertNode(token: token, key: key, fragment: writeFragment(body, previous: nil))
            }
            lowestTimestamp = Swift.min(lowestTimestamp, lo)
            highestTimestamp = Swift.max(highestTimestamp, hi)
            tombstoneCount += t
            return arena.usedBytes + 16 * slotCapacity
        }
    }

    private func insertNode(token: Int64, key: UnsafeRawBufferPointer, fragment: UnsafeMutableRawPointer) {
        let h = randomHeight()
        if h > height {
            for l in height ..< h { preds[l] = head }
            height = h
        }
        let n = arena.allocate(Self.linksOffset + 8 * h + key.count)
        n.storeBytes(of: token, as: Int64.self)
        n.storeBytes(of: UInt(bitPattern: fragment), toByteOffset: 8, as: UInt.self)
        n.storeBytes(of: Int32(1), toByteOffset: 16, as: Int32.self)
        n.storeBytes(of: Int32(h), toByteOffset: 20, as: Int32.self)
        n.storeBytes(of: Int32(key.count), toByteOffset: 24, as: Int32.self)
        if let k = key.baseAddress, key.count > 0 { (n + Self.linksOffset + 8 * h).copyMemory(from: k, byteCount: key.count) }
        for l in 0 ..< h {
            let p = preds[l]!
            Self.setNext(n, l, Self.next(p, l))
            Self.setNext(p, l, n)
        }
        indexInsert(token, n)
        count += 1
    }

    private func writeFragment(_ body: UnsafeRawBufferPointer, previous: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer {
        let p = arena.allocate(Self.fragmentHeader + body.count)
        p.storeBytes(of: UInt(bitPattern: previous), as: UInt.self)
        p.storeBytes(of: UInt32(body.count), toByteOffset: 8, as: UInt32.self)
        if let b = body.baseAddress, body.count > 0 { (p + Self.fragmentHeader).copyMemory(from: b, byteCount: body.count) }
        return p
    }

    @inline(__always)
    private static func fragmentBody(_ f: UnsafeMutableRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: f + fragmentHeader, count: Int(f.load(fromByteOffset: 8, as: UInt32.self)))
    }

    @inline(__always)
    private static func previousFragment(_ f: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        UnsafeMutableRawPointer(bitPattern: f.load(as: UInt.self))
    }

    /// Copies of the bodies of a node's fragments, newest first.
    private static func copyFragments(_ n: UnsafeMutableRawPointer) -> [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(Int(fragmentCount(n)))
        var f = newestFragment(n)
        while let frag = f {
            out.append(Array(fragmentBody(frag)))
            f = previousFragment(frag)
        }
        return out
    }

    /// Merges the newest fragments of a partition into one, as long as each next older fragment
    /// is at most twice the size merged so far (and at least two are merged). Like a binary
    /// counter, every byte is re-merged O(log n) times, so a partition receiving many small writes
    /// (a time series) costs O(n log n) in total, not O(n²); the chain stays O(log n) + threshold
    /// long.
    private func collapse(_ n: UnsafeMutableRawPointer, _ cmp: ClusteringComparator) {
        var group: [[UInt8]] = []
        var total = 0
        var f = Self.newestFragment(n)
        while let frag = f {
            let body = Self.fragmentBody(frag)
            if group.count >= 2 && body.count > 2 * total { break }
            group.append(Array(body))
            total += body.count
            f = Self.previousFragment(frag)
        }
        guard group.count >= 2, let merged = try? Self.decodeAndMerge(group, cmp) else { return }
        var w = ByteWriter(capacity: total + 64)
        StorageCodec.writePartition(merged, &w)
        let rest = f
        let newFragment = w.bytes.withUnsafeBytes { writeFragment($0, previous: rest) }
        n.storeBytes(of: UInt(bitPattern: newFragment), toByteOffset: 8, as: UInt.self)
        n.storeBytes(of: Self.fragmentCount(n) - Int32(group.count) + 1, toByteOffset: 16, as: Int32.self)
    }

    // MARK: reads

    /// Decodes encoded partition bodies and merges them.
    static func decodeAndMerge(_ bodies: [[UInt8]], _ cmp: ClusteringComparator) throws(DecodeError) -> PartitionUpdate {
        if bodies.count == 1 {
            var r = ByteReader(bodies[0])
            return try StorageCodec.readPartition(&r)
        }
        var parts: [PartitionUpdate] = []
        parts.reserveCapacity(bodies.count)
        for b in bodies {
            var r = ByteReader(b)
            parts.append(try StorageCodec.readPartition(&r))
        }
        return PartitionUpdate.merge(parts, cmp)
    }

    /// The partition's merged content, or nil when the memtable has nothing for it.
    func read(token: Int64, key: [UInt8], _ cmp: ClusteringComparator) throws(DecodeError) -> PartitionUpdate? {
        guard let bodies = fragments(token: token, key: key) else { return nil }
        return try Self.decodeAndMerge(bodies, cmp)
    }

    /// Copies of the partition's encoded fragments, or nil when the memtable has nothing for it.
    private func fragments(token: Int64, key: [UInt8]) -> [[UInt8]]? {
        key.withUnsafeBytes { k in
            lock.withReadLock {
                guard let n = lookup(token, k) else { return nil }
                return Self.copyFragments(n)
            }
        }
    }

    /// The partition's first `rowLimit` rows in the forward `slice` (with its deletion, range
    /// tombstones and static row), or nil when the memtable has nothing for it. Each fragment is
    /// decoded only as far as it must be: rows before the slice are stepped over, and decoding
    /// stops after `rowLimit` rows of it. Every fragment giving at most `rowLimit` rows, their
    /// merge is exact through its `rowLimit`-th row.
    func read(token: Int64, key: [UInt8], slice: ClusteringSlice, rowLimit: Int,
              _ cmp: ClusteringComparator) throws(DecodeError) -> PartitionUpdate? {
        guard let bodies = fragments(token: token, key: key) else { return nil }
        var parts: [PartitionUpdate] = []
        parts.reserveCapacity(bodies.count)
        for b in bodies {
            var r = ByteReader(b)
            parts.append(try StorageCodec.readPartition(&r, slice: slice, rowLimit: rowLimit, cmp))
        }
        return parts.count == 1 ? parts[0] : PartitionUpdate.merge(parts, cmp)
    }

    /// Up to `limit` keys in order from `(token, key)` (strictly after it unless `inclusive`; from
    /// the start when nil) with token at most `endToken` (no end bound when nil).
    func keys(after: (Int64, [UInt8])?, inclusive: Bool = false, endToken: Int64?, limit: Int) -> [(Int64, [UInt8])] {
        lock.withReadLock {
            var x: UnsafeMutableRawPointer?
            if let (t, k) = after {
                x = k.withUnsafeBytes { kb in
                    var n = seek(t, kb)
                    if !inclusive, let m = n, Self.compare(m, t, kb) == 0 { n = Self.next(m, 0) }
                    return n
                }
            } else {
                x = Self.next(head, 0)
            }
            var out: [(Int64, [UInt8])] = []
            while let n = x, out.count < limit {
                let t = Self.token(n)
                if let e = endToken, t > e { break }
                out.append((t, Array(Self.key(n))))
                x = Self.next(n, 0)
            }
            return out
        }
    }

    /// Visits every partition in order with its key and either its single encoded body (no copy,
    /// valid only during the call) or, when it has several fragments, their merge.
    func forEachPartition(_ cmp: ClusteringComparator, _ body: (Int64, UnsafeRawBufferPointer, PartitionBody) throws -> Void) throws {
        try lock.withReadLock {
            // Nodes lie in the arena in insertion order, not key order, so each step of the walk
            // would wait for a cache miss. Two nodes ahead are asked for instead: while `body` works
            // on `n`, the node after `ahead` and `ahead`'s newest fragment come in (`ahead` itself
            // was asked for a step earlier, so reading its links does not wait either).
            var x = Self.next(head, 0)
            var ahead = x.flatMap { Self.next($0, 0) }
            while let n = x {
                let further = ahead.flatMap { Self.next($0, 0) }
                if let further { basalt_prefetch(further) }
                if let f = ahead.flatMap(Self.newestFragment) { basalt_prefetch(f) }
                let key = Self.key(n)
                if Self.fragmentCount(n) == 1, let f = Self.newestFragment(n) {
                    try body(Self.token(n), key, .encoded(Self.fragmentBody(f)))
                } else {
                    try body(Self.token(n), key, .merged(try Self.decodeAndMerge(Self.copyFragments(n), cmp)))
                }
                x = ahead
                ahead = further
            }
        }
    }

    enum PartitionBody {
        case encoded(UnsafeRawBufferPointer)
        case merged(PartitionUpdate)
    }
}
