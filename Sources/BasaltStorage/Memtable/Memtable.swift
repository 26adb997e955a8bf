import BasaltCore

/// The in-memory, sorted write buffer of one table.
///
/// Partitions are kept in a skiplist ordered by (token, key bytes) whose nodes live in one
/// contiguous array (links are indices, not pointers). Keys and partition bodies live in a
/// ``MemtableArena``: a write copies the already-encoded partition body (the same bytes the commit
/// log got) into the arena and links it in front of the partition's earlier fragments, so the write
/// path allocates nothing per operation. Reads decode and merge a partition's fragments; a partition
/// with many fragments is collapsed into one. Skiplist after Pugh, "Skip Lists: A Probabilistic
/// Alternative to Balanced Trees" (CACM 1990), with p = 1/4.
///
/// Thread safety: one writer at a time (the table's write lock) and concurrent readers, through an
/// internal readers-writer lock.
final class Memtable: @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `lock`; the stats fields are written under the
    // owning table's write lock and read after the memtable is frozen or under `lock`.
    struct Node {
        var token: Int64
        var keyRef: Int
        var keyLength: Int32
        var height: Int32
        var linkBase: Int32
        var fragments: Int32
        var head: Int
    }

    static let maxHeight = 16
    static let collapseThreshold: Int32 = 8
    /// Fragment header: previous fragment reference (Int64) and body length (UInt32), padded.
    static let fragmentHeader = 16

    let id: Int
    let lock = ReadWriteLock()
    private var arena = MemtableArena()
    private var nodes: [Node] = []
    private var links: [Int32] = []
    private var preds = [Int32](repeating: 0, count: Memtable.maxHeight)
    private var height = 1
    private var rng: UInt64
    /// Commit-log positions of the writes it holds: `[lower, upper)`; `upper` is set on switch.
    let commitLogLower: CommitLogPosition
    var commitLogUpper: CommitLogPosition?
    private var lowestTimestamp = Int64.max
    private var highestTimestamp = Int64.min
    private var tombstoneCount = 0
    /// Extra commit-log ranges whose records it holds (replayed from an earlier process).
    var replayedIntervals: [CommitLogInterval] = []

    var minTimestamp: Int64 { lock.withReadLock { lowestTimestamp } }
    var maxTimestamp: Int64 { lock.withReadLock { highestTimestamp } }
    var tombstones: Int { lock.withReadLock { tombstoneCount } }

    init(id: Int, commitLogLower: CommitLogPosition) {
        self.id = id
        self.commitLogLower = commitLogLower
        rng = 0x9E37_79B9_7F4A_7C15 &* UInt64(truncatingIfNeeded: id &+ 1)
        nodes.reserveCapacity(1024)
        links.reserveCapacity(1400)
        // Node 0 is the head sentinel with every level.
        nodes.append(Node(token: .min, keyRef: 0, keyLength: 0, height: Int32(Self.maxHeight), linkBase: 0, fragments: 0, head: -1))
        links.append(contentsOf: repeatElement(-1, count: Self.maxHeight))
    }

    deinit { arena.free() }

    /// Approximate memory held, for the flush threshold.
    var sizeBytes: Int {
        lock.withReadLock { arena.usedBytes + nodes.count * MemoryLayout<Node>.stride + links.count * 4 }
    }

    var partitionCount: Int { lock.withReadLock { nodes.count - 1 } }
    var isEmpty: Bool { partitionCount == 0 }

    @inline(__always)
    private func link(_ node: Int32, _ level: Int) -> Int32 { links[Int(nodes[Int(node)].linkBase) + level] }

    /// (token, key) order of node `n` against a probe: negative when the node sorts first.
    @inline(__always)
    private func compare(_ n: Int32, _ token: Int64, _ key: UnsafeRawBufferPointer) -> Int {
        let node = nodes[Int(n)]
        if node.token != token { return node.token < token ? -1 : 1 }
        let kp = UnsafeRawBufferPointer(start: arena.pointer(node.keyRef), count: Int(node.keyLength))
        return CQLType.compareUnsigned(kp, key)
    }

    /// The last node sorting strictly before the probe at every level, filled into `preds`; returns
    /// the level-0 successor (-1 for none).
    @inline(__always)
    private func findPredecessors(_ token: Int64, _ key: UnsafeRawBufferPointer) -> Int32 {
        var x: Int32 = 0
        var level = height - 1
        while level >= 0 {
            while true {
                let next = link(x, level)
                if next < 0 || compare(next, token, key) >= 0 { break }
                x = next
            }
            preds[level] = x
            level -= 1
        }
        return link(x, 0)
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

    /// Adds an encoded partition body for `key`; returns the memtable's approximate size. The caller
    /// holds the table's write lock.
    @discardableResult
    func apply(token: Int64, key: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer, minTimestamp lo: Int64, maxTimestamp hi: Int64, tombstones t: Int, _ cmp: ClusteringComparator) -> Int {
        lock.withWriteLock {
            let found = findPredecessors(token, key)
            let fragment = writeFragment(body, previous: -1)
            if found >= 0 && compare(found, token, key) == 0 {
                let f = Int(found)
                setPrevious(fragment, nodes[f].head)
                nodes[f].head = fragment
                nodes[f].fragments += 1
                if nodes[f].fragments >= Self.collapseThreshold { collapse(f, cmp) }
            } else {
                insertNode(token: token, key: key, fragment: fragment)
            }
            lowestTimestamp = Swift.min(lowestTimestamp, lo)
            highestTimestamp = Swift.max(highestTimestamp, hi)
            tombstoneCount += t
            return arena.usedBytes + nodes.count * MemoryLayout<Node>.stride + links.count * 4
        }
    }

    private func insertNode(token: Int64, key: UnsafeRawBufferPointer, fragment: Int) {
        let h = randomHeight()
        if h > height {
            for l in height ..< h { preds[l] = 0 }
            height = h
        }
        let keyRef = arena.allocate(key.count)
        if key.count > 0 { arena.pointer(keyRef).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        let idx = Int32(nodes.count)
        let base = Int32(links.count)
        nodes.append(Node(token: token, keyRef: keyRef, keyLength: Int32(key.count), height: Int32(h), linkBase: base, fragments: 1, head: fragment))
        for l in 0 ..< h {
            let p = preds[l]
            links.append(link(p, l))
            links[Int(nodes[Int(p)].linkBase) + l] = idx
        }
    }

    private func writeFragment(_ body: UnsafeRawBufferPointer, previous: Int) -> Int {
        let ref = arena.allocate(Self.fragmentHeader + body.count)
        let p = arena.pointer(ref)
        p.storeBytes(of: Int64(previous), as: Int64.self)
        p.storeBytes(of: UInt32(body.count), toByteOffset: 8, as: UInt32.self)
        if body.count > 0 { (p + Self.fragmentHeader).copyMemory(from: body.baseAddress!, byteCount: body.count) }
        return ref
    }

    private func setPrevious(_ fragment: Int, _ previous: Int) {
        arena.pointer(fragment).storeBytes(of: Int64(previous), as: Int64.self)
    }

    private func fragmentBody(_ ref: Int) -> (UnsafeRawBufferPointer, Int) {
        let p = arena.pointer(ref)
        let prev = Int(p.load(as: Int64.self))
        let n = Int(p.load(fromByteOffset: 8, as: UInt32.self))
        return (UnsafeRawBufferPointer(start: p + Self.fragmentHeader, count: n), prev)
    }

    /// Copies of the bodies of node `n`'s fragments, newest first.
    private func copyFragments(_ n: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(Int(nodes[n].fragments))
        var ref = nodes[n].head
        while ref >= 0 {
            let (body, prev) = fragmentBody(ref)
            out.append(Array(body))
            ref = prev
        }
        return out
    }

    private func collapse(_ n: Int, _ cmp: ClusteringComparator) {
        guard let merged = try? Self.decodeAndMerge(copyFragments(n), cmp) else { return }
        var w = ByteWriter(capacity: 256)
        StorageCodec.writePartition(merged, &w)
        let ref = w.bytes.withUnsafeBytes { writeFragment($0, previous: -1) }
        nodes[n].head = ref
        nodes[n].fragments = 1
    }

    /// Decodes encoded partition bodies and merges them.
    static func decodeAndMerge(_ bodies: [[UInt8]], _ cmp: ClusteringComparator) throws(DecodeError) -> PartitionUpdate {
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
        let bodies: [[UInt8]]? = key.withUnsafeBytes { k in
            lock.withReadLock {
                let found = findPredecessors(token, k)
                guard found >= 0, compare(found, token, k) == 0 else { return nil }
                return copyFragments(Int(found))
            }
        }
        guard let bodies else { return nil }
        return try Self.decodeAndMerge(bodies, cmp)
    }

    /// Whether the memtable holds anything for the key.
    func contains(token: Int64, key: [UInt8]) -> Bool {
        key.withUnsafeBytes { k in
            lock.withReadLock {
                let found = findPredecessors(token, k)
                return found >= 0 && compare(found, token, k) == 0
            }
        }
    }

    /// Up to `limit` keys in order from `(token, key)` (strictly after it unless `inclusive`; from
    /// the start when nil) with token at most `endToken` (no end bound when nil).
    func keys(after: (Int64, [UInt8])?, inclusive: Bool = false, endToken: Int64?, limit: Int) -> [(Int64, [UInt8])] {
        lock.withReadLock {
            var x: Int32
            if let (t, k) = after {
                x = k.withUnsafeBytes { kb in
                    var n = findPredecessors(t, kb)
                    if !inclusive && n >= 0 && compare(n, t, kb) == 0 { n = link(n, 0) }
                    return n
                }
            } else {
                x = link(0, 0)
            }
            var out: [(Int64, [UInt8])] = []
            while x >= 0 && out.count < limit {
                let node = nodes[Int(x)]
                if let e = endToken, node.token > e { break }
                out.append((node.token, Array(UnsafeRawBufferPointer(start: arena.pointer(node.keyRef), count: Int(node.keyLength)))))
                x = link(x, 0)
            }
            return out
        }
    }

    /// Visits every partition in order with its key and either its single encoded body (no copy,
    /// valid only during the call) or, when it has several fragments, their merge.
    func forEachPartition(_ cmp: ClusteringComparator, _ body: (Int64, UnsafeRawBufferPointer, PartitionBody) throws -> Void) throws {
        try lock.withReadLock {
            var x = link(0, 0)
            while x >= 0 {
                let node = nodes[Int(x)]
                let key = UnsafeRawBufferPointer(start: arena.pointer(node.keyRef), count: Int(node.keyLength))
                if node.fragments == 1 {
                    try body(node.token, key, .encoded(fragmentBody(node.head).0))
                } else {
                    try body(node.token, key, .merged(try Self.decodeAndMerge(copyFragments(Int(x)), cmp)))
                }
                x = link(x, 0)
            }
        }
    }

    enum PartitionBody {
        case encoded(UnsafeRawBufferPointer)
        case merged(PartitionUpdate)
    }
}
