import BasaltCore
import BasaltStorage

/// A Merkle tree over one token range, as Cassandra's validation compaction builds for repair:
/// the range is cut into `2^depth` leaves of equal token width; a leaf's hash combines (XOR, so
/// the order partitions are added in does not matter) the 128-bit digests of the partitions whose
/// token falls in it — each digest covering key, rows, cells, timestamps, TTLs and tombstones
/// (``PartitionResult/digest(_:)``); an inner node hashes its two children. Two replicas holding
/// the same data for the range build equal trees; ``differences(from:)`` names the leaf ranges
/// where they differ, which is what repair streams.
///
/// The depth is capped so that every leaf covers at least one token (a range narrower than
/// `2^depth` tokens gets fewer leaves), and at ``maxDepth``.
public struct MerkleTree: Hashable, Sendable {
    /// 128-bit hash of a leaf or node.
    public struct Hash: Hashable, Sendable, CustomStringConvertible {
        public var high: UInt64
        public var low: UInt64
        public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }
        public static let zero = Hash(high: 0, low: 0)
        public var description: String { String(high, radix: 16) + String(low, radix: 16) }
    }

    /// Most leaves a tree may have: `2^16` (1 MiB of leaf hashes).
    public static let maxDepth = 16

    public let range: TokenRange
    public let depth: Int
    /// The leaf hashes, in token order.
    public private(set) var leaves: [Hash]
    /// Partitions added.
    public private(set) var partitions: Int = 0

    /// An empty tree over `range` with at most `depth` levels below the root.
    public init(range: TokenRange, depth: Int) {
        self.range = range
        self.depth = Self.effectiveDepth(range: range, requested: depth)
        leaves = Array(repeating: .zero, count: 1 << self.depth)
    }

    /// The depth a tree over `range` gets for a requested depth (both replicas compute the same).
    public static func effectiveDepth(range: TokenRange, requested: Int) -> Int {
        var d = max(0, min(requested, maxDepth))
        if let width = Self.width(range) {
            while d > 0 && (width >> UInt64(d)) == 0 { d -= 1 }
        }
        return d
    }

    /// Number of tokens in the range, or nil for the whole ring (2^64).
    static func width(_ range: TokenRange) -> UInt64? {
        range.start == range.end ? nil : UInt64(bitPattern: range.end.value &- range.start.value)
    }

    /// The leaf a token of the range falls in.
    public func leafIndex(for token: Token) -> Int {
        precondition(range.contains(token), "token \(token) outside the tree's range \(range)")
        let offset = UInt64(bitPattern: token.value &- range.start.value) &- 1
        guard let width = Self.width(range) else { return depth == 0 ? 0 : Int(offset >> UInt64(64 - depth)) }
        let product = offset.multipliedFullWidth(by: UInt64(1) << UInt64(depth))
        return Int(width.dividingFullWidth((product.high, product.low)).quotient)
    }

    /// Offset from the range's start where leaf `i` begins (0 ≤ i ≤ leaf count; the count gives
    /// the width): `ceil(i · width / 2^depth)`.
    func leafStartOffset(_ i: Int) -> UInt64 {
        guard let width = Self.width(range) else { return depth == 0 ? 0 : UInt64(i) << UInt64(64 - depth) }
        let product = width.multipliedFullWidth(by: UInt64(i))
        let rounded = product.low.addingReportingOverflow((UInt64(1) << UInt64(depth)) - 1)
        let high = product.high + (rounded.overflow ? 1 : 0)
        // (high:low) >> depth
        return depth == 0 ? rounded.partialValue : (rounded.partialValue >> UInt64(depth)) | (high << UInt64(64 - depth))
    }

    /// The token range of leaf `i`.
    public func leafRange(_ i: Int) -> TokenRange {
        let start = Token(range.start.value &+ Int64(bitPattern: leafStartOffset(i)))
        let end = i == leaves.count - 1 ? range.end : Token(range.start.value &+ Int64(bitPattern: leafStartOffset(i + 1)))
        return TokenRange(start: start, end: end)
    }

    /// Adds one partition's digest to its leaf.
    public mutating func add(token: Token, digest: ResultDigest) {
        let i = leafIndex(for: token)
        leaves[i].high ^= digest.high
        leaves[i].low ^= digest.low
        partitions += 1
    }

    /// Hash of two children.
    static func combine(_ a: Hash, _ b: Hash) -> Hash {
        var w = ByteWriter(capacity: 32)
        w.writeUInt64(a.high); w.writeUInt64(a.low); w.writeUInt64(b.high); w.writeUInt64(b.low)
        let h = w.bytes.withUnsafeBytes { Murmur3.hash128($0) }
        return Hash(high: h.0, low: h.1)
    }

    /// Every level from the leaves (level `depth`) up to the root (level 0).
    func levels() -> [[Hash]] {
        var levels = [leaves]
        while levels[0].count > 1 {
            let below = levels[0]
            levels.insert(stride(from: 0, to: below.count, by: 2).map { Self.combine(below[$0], below[$0 + 1]) }, at: 0)
        }
        return levels
    }

    /// The root hash: equal roots mean equal data (up to hash collisions).
    public var root: Hash { levels()[0][0] }

    /// The token ranges where this tree and `other` (over the same range and depth) differ, found
    /// top-down from the root (identical subtrees are not descended), adjacent leaves merged.
    /// Empty when the trees are equal. With `whereThisHasData`, only leaves where this tree holds
    /// partitions: what streaming from this replica to the other's can bring.
    public func differences(from other: MerkleTree, whereThisHasData: Bool = false) -> [TokenRange] {
        precondition(range == other.range && depth == other.depth, "trees over \(range)/\(depth) and \(other.range)/\(other.depth)")
        let mine = levels()
        let theirs = other.levels()
        var differing: [Int] = []
        func descend(_ level: Int, _ i: Int) {
            guard mine[level][i] != theirs[level][i] else { return }
            if level == depth {
                if !whereThisHasData || leaves[i] != .zero { differing.append(i) }
                return
            }
            descend(level + 1, 2 * i)
            descend(level + 1, 2 * i + 1)
        }
        descend(0, 0)
        var out: [TokenRange] = []
        var runStart: Int?
        for (n, i) in differing.enumerated() {
            if runStart == nil { runStart = i }
            let next = n + 1 < differing.count ? differing[n + 1] : nil
            if next != i + 1 {
                out.append(TokenRange(start: leafRange(runStart!).start, end: leafRange(i).end))
                runStart = nil
            }
        }
        return out
    }
}

extension MerkleTree {
    /// Versioned encoding: `01`, range start and end (i64), depth (u8), partitions (var-uint),
    /// the leaf hashes (16 bytes each, in order).
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 24 + leaves.count * 16)
        w.writeUInt8(1)
        w.writeInt64(range.start.value)
        w.writeInt64(range.end.value)
        w.writeUInt8(UInt8(depth))
        w.writeVarUInt(UInt64(partitions))
        for h in leaves { w.writeUInt64(h.high); w.writeUInt64(h.low) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> MerkleTree {
        var r = ByteReader(bytes)
        guard try r.readUInt8() == 1 else { throw .invalid("unknown Merkle tree version", at: 0) }
        let range = TokenRange(start: Token(try r.readInt64()), end: Token(try r.readInt64()))
        let depth = Int(try r.readUInt8())
        guard depth <= maxDepth, depth == effectiveDepth(range: range, requested: depth) else {
            throw .invalid("Merkle tree depth \(depth) impossible for range \(range)", at: 17)
        }
        var tree = MerkleTree(range: range, depth: depth)
        tree.partitions = Int(try r.readVarUInt())
        guard r.remaining == tree.leaves.count * 16 else {
            throw .invalid("Merkle tree of depth \(depth) with \(r.remaining) bytes of leaves", at: r.position)
        }
        for i in tree.leaves.indices { tree.leaves[i] = Hash(high: try r.readUInt64(), low: try r.readUInt64()) }
        return tree
    }
}
