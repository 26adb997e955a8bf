import CPrefetch

/// A float32 distance kernel a search is specialised for, so the inner loop calls it directly.
@usableFromInline
protocol GraphDistance {
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float
}

@usableFromInline
enum SquaredEuclideanDistance: GraphDistance {
    @inlinable @inline(__always)
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        DistanceKernels.squaredEuclidean(a, b, count)
    }
}

@usableFromInline
enum NegativeDotDistance: GraphDistance {
    @inlinable @inline(__always)
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        -DistanceKernels.dot(a, b, count)
    }
}

/// The distances one graph walk compares: from its query to a node, and between two nodes (for
/// the neighbour heuristic). A walk is generic over its space, so each kind of storage gets its
/// own specialised loop and no call in it is dynamically dispatched.
///
/// A space holds raw pointers into the graph's buffers: it is only valid while the caller holds
/// the graph's lock.
@usableFromInline
protocol GraphSpace {
    func toQuery(_ node: UInt32) -> Float
    func between(_ a: UInt32, _ b: UInt32) -> Float
    /// Asks for the first cache lines (up to four) of what comparing with `node` reads; the
    /// hardware prefetcher streams the rest.
    func prefetch(_ node: UInt32)
}

/// Float32 vectors in one contiguous buffer (node `i` at `i · dimension`).
@usableFromInline
struct FloatSpace<D: GraphDistance>: GraphSpace {
    @usableFromInline let vectors: UnsafePointer<Float>
    @usableFromInline let dimension: Int
    @usableFromInline let query: UnsafePointer<Float>

    @inlinable
    init(vectors: UnsafePointer<Float>, dimension: Int, query: UnsafePointer<Float>) {
        self.vectors = vectors
        self.dimension = dimension
        self.query = query
    }

    @inlinable @inline(__always)
    func toQuery(_ node: UInt32) -> Float { D.distance(query, vectors + Int(node) &* dimension, dimension) }

    @inlinable @inline(__always)
    func between(_ a: UInt32, _ b: UInt32) -> Float {
        D.distance(vectors + Int(a) &* dimension, vectors + Int(b) &* dimension, dimension)
    }

    @inlinable @inline(__always)
    func prefetch(_ node: UInt32) { prefetchLines(vectors + Int(node) &* dimension, bytes: dimension &* 4) }
}

/// Int8 codes compared by squared euclidean distance: `s² · ‖c − d‖²` (``ScalarQuantizer``).
@usableFromInline
struct CodeEuclideanSpace: GraphSpace {
    @usableFromInline let codes: UnsafePointer<Int8>
    @usableFromInline let dimension: Int
    @usableFromInline let query: UnsafePointer<Int8>
    @usableFromInline let squaredScale: Float

    @inlinable
    init(codes: UnsafePointer<Int8>, dimension: Int, query: UnsafePointer<Int8>, scale: Float) {
        self.codes = codes
        self.dimension = dimension
        self.query = query
        squaredScale = scale * scale
    }

    @inlinable @inline(__always)
    func toQuery(_ node: UInt32) -> Float {
        squaredScale * Float(DistanceKernels.squaredEuclidean(query, codes + Int(node) &* dimension, dimension))
    }

    @inlinable @inline(__always)
    func between(_ a: UInt32, _ b: UInt32) -> Float {
        squaredScale * Float(DistanceKernels.squaredEuclidean(codes + Int(a) &* dimension, codes + Int(b) &* dimension, dimension))
    }

    @inlinable @inline(__always)
    func prefetch(_ node: UInt32) { prefetchLines(codes + Int(node) &* dimension, bytes: dimension) }
}

/// Int8 codes compared by minus the reconstructed dot product,
/// `−(s² (c · d) + s (c · m) + s (d · m) + m · m)` (``ScalarQuantizer``), for the dot-product and
/// cosine graphs.
@usableFromInline
struct CodeDotSpace: GraphSpace {
    @usableFromInline let codes: UnsafePointer<Int8>
    @usableFromInline let corrections: UnsafePointer<Float>
    @usableFromInline let dimension: Int
    @usableFromInline let query: UnsafePointer<Int8>
    /// The query's correction plus `m · m`: the part of every distance that is the same.
    @usableFromInline let queryTerm: Float
    @usableFromInline let offsetSquaredNorm: Float
    @usableFromInline let squaredScale: Float

    @inlinable
    init(codes: UnsafePointer<Int8>, corrections: UnsafePointer<Float>, dimension: Int,
         query: UnsafePointer<Int8>, queryCorrection: Float, quantizer: ScalarQuantizer) {
        self.codes = codes
        self.corrections = corrections
        self.dimension = dimension
        self.query = query
        queryTerm = queryCorrection + quantizer.offsetSquaredNorm
        offsetSquaredNorm = quantizer.offsetSquaredNorm
        squaredScale = quantizer.scale * quantizer.scale
    }

    @inlinable @inline(__always)
    func toQuery(_ node: UInt32) -> Float {
        let d = DistanceKernels.dot(query, codes + Int(node) &* dimension, dimension)
        return -(squaredScale * Float(d) + corrections[Int(node)] + queryTerm)
    }

    @inlinable @inline(__always)
    func between(_ a: UInt32, _ b: UInt32) -> Float {
        let d = DistanceKernels.dot(codes + Int(a) &* dimension, codes + Int(b) &* dimension, dimension)
        return -(squaredScale * Float(d) + corrections[Int(a)] + corrections[Int(b)] + offsetSquaredNorm)
    }

    @inlinable @inline(__always)
    func prefetch(_ node: UInt32) { prefetchLines(codes + Int(node) &* dimension, bytes: dimension) }
}

/// Prefetches the first `min(bytes, 256)` bytes at `start`, a cache line at a time.
@inlinable @inline(__always)
func prefetchLines(_ start: UnsafeRawPointer, bytes: Int) {
    var offset = 0
    let end = min(bytes, 256)
    while offset < end {
        basalt_prefetch(start + offset)
        offset &+= 64
    }
}
