import BasaltCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A hierarchical navigable small world graph over float32 vectors (Malkov & Yashunin, IEEE TPAMI
/// 2018): approximate nearest-neighbour search in logarithmic time.
///
/// Storage is flat and contiguous: all vectors in one 64-byte aligned buffer (node `i` at
/// `i · dimension`), every node's ground-layer links in one buffer of fixed-size slots
/// (`1 + 2M` words: count, then ids), and the rare upper-layer link lists in a second pool.
/// Memory per node is `4 · dimension + 4 · (2M + 1) + 1` bytes plus, for the ≈ 1/M of nodes above
/// the ground layer, `4 · (M + 1)` bytes per extra layer.
///
/// With ``VectorQuantization/int8`` (see HNSWGraph+Quantization.swift) each node also has
/// `dimension` bytes of ``ScalarQuantizer`` codes and a 4-byte correction, and every walk compares
/// codes; floats are read only to rerank a search's best candidates. A quantised graph read with
/// a mapped ``IndexFileReader`` leaves the float vectors of the nodes it read in the mapped file
/// (``mappedBytes``) and keeps only later inserts' floats in the heap.
///
/// Concurrency: any number of threads may search while one thread inserts (inserts are
/// serialised). An insert looks for its neighbours under the shared lock, like a search, and
/// takes the exclusive lock only to append the vector and to publish its links, so searches wait
/// at most for a few memory copies.
///
/// Deletion marks a node: it is still traversed (the graph stays navigable, §4's connectivity
/// argument holds) but never returned. ``compacted()`` rebuilds a graph of the live nodes when the
/// deleted share makes traversal wasteful; in the LSM this happens at compaction.
public final class HNSWGraph: @unchecked Sendable {
    // @unchecked: every buffer below is read under `lock` (shared) and written under `lock`
    // (exclusive); `insertLock` serialises writers; `pool` and `rng` have their own rules (see them).
    public let dimension: Int
    public let similarity: VectorSimilarity
    public let parameters: HNSWParameters

    @usableFromInline let lock = ReadWriteLock(preferWriters: true)
    let insertLock = Lock()
    let pool: ScratchPool

    /// Number of nodes (live and deleted).
    @usableFromInline var nodeCount = 0
    @usableFromInline var capacity = 0
    /// Float vectors in the heap: nodes `heapVectorBase ..< capacity`, node `i` at
    /// `(i − heapVectorBase) · dimension`, stored normalised for cosine.
    @usableFromInline var vectors: UnsafeMutablePointer<Float>
    /// Nodes below it have their float vectors in `mappedVectors`. Only a quantised graph read
    /// from a mapped file has any (its walks never read floats), so a float graph's walk can index
    /// `vectors` directly.
    @usableFromInline var heapVectorBase = 0
    /// The float vectors of nodes `0 ..< heapVectorBase`, inside `mappedFile`.
    @usableFromInline var mappedVectors: UnsafePointer<Float>?
    /// Keeps the mapping of `mappedVectors` alive.
    var mappedFile: IndexFileBytes?
    /// Once trained (int8 graphs only): codes of every node (`capacity · dimension` bytes, node `i`
    /// at `i · dimension`) and each node's dot-product correction.
    @usableFromInline var quantizer: ScalarQuantizer?
    @usableFromInline var codes: UnsafeMutablePointer<Int8>?
    @usableFromInline var corrections: UnsafeMutablePointer<Float>?
    /// `capacity` slots of `groundSlot` words: count, then up to 2M ids.
    @usableFromInline var groundLinks: UnsafeMutablePointer<UInt32>
    @usableFromInline let groundSlot: Int
    /// Each node's top layer.
    @usableFromInline var levels: UnsafeMutablePointer<UInt8>
    /// For a node above the ground layer: its offset in `upperLinks`, where its layers 1…level
    /// follow one another, each `upperSlot` words (count, then up to M ids).
    @usableFromInline var upperOffsets: [UInt32: Int] = [:]
    @usableFromInline var upperLinks: UnsafeMutablePointer<UInt32>
    @usableFromInline var upperUsed = 0
    @usableFromInline var upperCapacity = 0
    @usableFromInline let upperSlot: Int
    /// One bit per node: deleted (`capacity / 64 + 1` words).
    @usableFromInline var deleted: UnsafeMutablePointer<UInt64>
    public internal(set) var deletedCount = 0
    @usableFromInline var entryPoint: UInt32 = 0
    @usableFromInline var topLevel = -1
    /// The level generator; only touched under `insertLock`.
    var rng: SplitMix64

    /// An empty graph for vectors of `dimension` components.
    ///
    /// With ``VectorQuantization/int8`` and a `quantizer` (of the same dimension, trained on
    /// vectors in the graph's stored form: normalised for cosine), every node is encoded from its
    /// first insert; without one the graph trains its own after
    /// ``HNSWParameters/quantizerTrainingSize`` inserts. A quantizer is ignored for a float graph,
    /// and a graph of more than ``ScalarQuantizer/maximumDimension`` dimensions stays float.
    public init(
        dimension: Int, similarity: VectorSimilarity, parameters: HNSWParameters = HNSWParameters(), capacity: Int = 1024,
        quantizer: ScalarQuantizer? = nil
    ) {
        precondition(dimension > 0, "a vector index needs at least one dimension")
        self.dimension = dimension
        self.similarity = similarity
        self.parameters = parameters
        groundSlot = 1 + parameters.maxGroundLinks
        upperSlot = 1 + parameters.m
        rng = SplitMix64(seed: parameters.seed)
        pool = ScratchPool(dimension: dimension)
        self.capacity = max(capacity, 16)
        vectors = Self.allocateVectors(self.capacity * dimension)
        groundLinks = .allocate(capacity: self.capacity * groundSlot)
        levels = .allocate(capacity: self.capacity)
        deleted = .allocate(capacity: self.capacity / 64 + 1)
        deleted.initialize(repeating: 0, count: self.capacity / 64 + 1)
        upperCapacity = 1024
        upperLinks = .allocate(capacity: upperCapacity)
        if let quantizer, quantizesWalks {
            precondition(quantizer.dimension == dimension, "a quantiser of \(quantizer.dimension) dimensions for a graph of \(dimension)")
            installQuantizer(quantizer)
        }
    }

    deinit {
        codes?.deallocate()
        corrections?.deallocate()
        vectors.deallocate()
        groundLinks.deallocate()
        levels.deallocate()
        deleted.deallocate()
        upperLinks.deallocate()
    }

    static func allocateVectors(_ floats: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: max(floats, 1) * 4, alignment: 64).bindMemory(to: Float.self, capacity: max(floats, 1))
    }

    /// Nodes in the graph, deleted ones included.
    public var count: Int { lock.withReadLock { nodeCount } }

    /// Nodes not deleted.
    public var liveCount: Int { lock.withReadLock { nodeCount - deletedCount } }

    /// Bytes of heap memory the graph holds for its nodes: float vectors not left in a mapped
    /// file, codes and corrections, links, levels, marks.
    public var memoryBytes: Int {
        lock.withReadLock {
            let floats = (nodeCount - heapVectorBase) * dimension * 4
            let coded = quantizer == nil ? 0 : nodeCount * (dimension + 4) + dimension * 4
            return floats + coded + nodeCount * (groundSlot * 4 + 1) + upperUsed * 4 + upperOffsets.count * 16 + (nodeCount / 64 + 1) * 8
        }
    }

    /// Bytes of float vectors read from a mapped index file rather than held in the heap: the
    /// kernel pages them in when a search reranks or an exact search scans, and may drop them
    /// again under memory pressure (they are clean file pages).
    public var mappedBytes: Int { lock.withReadLock { heapVectorBase * dimension * 4 } }

    /// Whether this graph walks codes once it has a quantiser.
    var quantizesWalks: Bool { parameters.quantization == .int8 && dimension <= ScalarQuantizer.maximumDimension }

    // MARK: raw access (callers hold `lock`)

    /// A node's float vector, wherever it lives.
    @inlinable @inline(__always)
    func floatVector(_ node: UInt32) -> UnsafePointer<Float> {
        if Int(node) < heapVectorBase, let mapped = mappedVectors { return mapped + Int(node) &* dimension }
        return UnsafePointer(vectors + (Int(node) &- heapVectorBase) &* dimension)
    }

    /// Where a new node's float vector is written (a node at or above `heapVectorBase`).
    @inlinable @inline(__always)
    func heapVector(_ node: UInt32) -> UnsafeMutablePointer<Float> { vectors + (Int(node) &- heapVectorBase) &* dimension }

    /// The link slot of `node` on `level`: element 0 is the count.
    @inlinable @inline(__always)
    func links(_ node: UInt32, level: Int) -> UnsafeMutablePointer<UInt32> {
        if level == 0 { return groundLinks + Int(node) &* groundSlot }
        return upperLinks + upperOffsets[node]! + (level - 1) &* upperSlot
    }

    @inlinable @inline(__always)
    func isDeleted(_ node: UInt32) -> Bool {
        deleted[Int(node) >> 6] & (1 << UInt64(node & 63)) != 0
    }

    /// Grows every per-node buffer to hold at least `needed` nodes (caller holds the write lock).
    func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let newCapacity = max(needed, capacity * 2)
        let v = Self.allocateVectors((newCapacity - heapVectorBase) * dimension)
        v.update(from: vectors, count: (nodeCount - heapVectorBase) * dimension)
        vectors.deallocate()
        vectors = v
        if let old = codes, let oldCorrections = corrections {
            let c = UnsafeMutablePointer<Int8>.allocate(capacity: newCapacity * dimension)
            c.update(from: old, count: nodeCount * dimension)
            old.deallocate()
            codes = c
            let k = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity)
            k.update(from: oldCorrections, count: nodeCount)
            oldCorrections.deallocate()
            corrections = k
        }
        let g = UnsafeMutablePointer<UInt32>.allocate(capacity: newCapacity * groundSlot)
        g.update(from: groundLinks, count: nodeCount * groundSlot)
        groundLinks.deallocate()
        groundLinks = g
        let l = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        l.update(from: levels, count: nodeCount)
        levels.deallocate()
        levels = l
        let d = UnsafeMutablePointer<UInt64>.allocate(capacity: newCapacity / 64 + 1)
        d.initialize(repeating: 0, count: newCapacity / 64 + 1)
        d.update(from: deleted, count: capacity / 64 + 1)
        deleted.deallocate()
        deleted = d
        capacity = newCapacity
    }

    /// Reserves `level` upper-layer slots for `node`, each with no links (caller holds the write
    /// lock).
    func allocateUpperLinks(_ node: UInt32, level: Int) {
        guard level > 0 else { return }
        let words = level * upperSlot
        if upperUsed + words > upperCapacity {
            let bigger = max(upperCapacity * 2, upperUsed + words)
            let p = UnsafeMutablePointer<UInt32>.allocate(capacity: bigger)
            p.update(from: upperLinks, count: upperUsed)
            upperLinks.deallocate()
            upperLinks = p
            upperCapacity = bigger
        }
        upperOffsets[node] = upperUsed
        for l in 0 ..< level { upperLinks[upperUsed + l * upperSlot] = 0 }
        upperUsed += words
    }

    /// Copies `source` into `destination` in the graph's stored form: normalised for cosine.
    @inlinable
    func prepare(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>) {
        destination.update(from: source, count: dimension)
        if similarity == .cosine {
            let norm = DistanceKernels.squaredNorm(destination, dimension).squareRoot()
            if norm > 0 {
                let inverse = 1 / norm
                for i in 0 ..< dimension { destination[i] *= inverse }
            }
        }
    }

    /// Marks `node` deleted: it is never returned again. Deleting twice is harmless.
    public func markDeleted(_ node: UInt32) {
        lock.withWriteLock {
            guard Int(node) < nodeCount, !isDeleted(node) else { return }
            deleted[Int(node) >> 6] |= 1 << UInt64(node & 63)
            deletedCount += 1
        }
    }

    /// Whether `node` was deleted.
    public func wasDeleted(_ node: UInt32) -> Bool {
        lock.withReadLock { Int(node) < nodeCount && isDeleted(node) }
    }

    /// A copy of a node's stored vector (normalised for cosine).
    public func storedVector(_ node: UInt32) -> [Float] {
        lock.withReadLock {
            precondition(Int(node) < nodeCount, "no node \(node)")
            return Array(UnsafeBufferPointer(start: floatVector(node), count: dimension))
        }
    }
}
