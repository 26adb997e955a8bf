import CPrefetch

/// Int8 walks with float reranking (``VectorQuantization/int8``).
///
/// A quantised graph has two phases. Until it holds ``HNSWParameters/quantizerTrainingSize``
/// nodes (or from the start, when it was given a quantiser) it is a float graph. The insert that
/// reaches that size trains a ``ScalarQuantizer`` on the stored vectors of every node so far and
/// encodes them all, under the exclusive lock, so a concurrent search sees either the float graph
/// or the coded one, never a mixture. From then on:
///
/// - inserts encode their vector once and build links by code distances (greedy descent, the
///   ef_construction search and the neighbour heuristic all compare codes);
/// - a search encodes its query once, walks the graph by code distances keeping `ef` candidates,
///   then computes exact float distances for the best `max(k, rerank)` of them and returns the
///   `k` closest by those, so the distances it returns are exact.
///
/// The float vectors are touched only by that reranking, by ``exactSearch(_:k:filter:)``, by
/// training and by ``compacted()``, which is what lets them stay in a mapped file.
extension HNSWGraph {
    /// The quantiser the graph walks with, once trained.
    public var activeQuantizer: ScalarQuantizer? { lock.withReadLock { quantizer } }

    /// Sets `quantizer` and encodes every node so far (caller holds the write lock, or is the
    /// initialiser).
    func installQuantizer(_ quantizer: ScalarQuantizer) {
        let c = UnsafeMutablePointer<Int8>.allocate(capacity: max(capacity * dimension, 1))
        let k = UnsafeMutablePointer<Float>.allocate(capacity: max(capacity, 1))
        for node in 0 ..< UInt32(nodeCount) {
            k[Int(node)] = quantizer.encode(floatVector(node), into: c + Int(node) * dimension)
        }
        codes = c
        corrections = k
        self.quantizer = quantizer
    }

    /// Trains and installs the quantiser when this graph quantises and has just reached its
    /// training size (caller holds the write lock and `insertLock`).
    func trainQuantizerIfDue() {
        guard quantizesWalks, quantizer == nil, nodeCount >= parameters.quantizerTrainingSize else { return }
        var trainer = ScalarQuantizer.Trainer(dimension: dimension)
        for node in 0 ..< UInt32(nodeCount) { trainer.add(floatVector(node)) }
        installQuantizer(trainer.quantizer())
    }

    /// Encodes the newly appended `node` (caller holds the write lock).
    @inline(__always)
    func encodeNewNode(_ node: UInt32) {
        guard let quantizer, let codes, let corrections else { return }
        corrections[Int(node)] = quantizer.encode(floatVector(node), into: codes + Int(node) * dimension)
    }

    /// The best `keep` candidates left in `scratch.results` by a code walk, rescored with exact
    /// float distances to `scratch.query`; the `k` closest of them, closest first (caller holds the
    /// lock).
    func rerank(_ scratch: SearchScratch, keep: Int, k: Int) -> [Neighbor] {
        var candidates = drainResults(scratch, k: keep)
        for c in candidates { basalt_prefetch(floatVector(c.id)) }
        let q = UnsafePointer(scratch.query)
        switch similarity {
        case .euclidean:
            for i in candidates.indices {
                candidates[i].distance = DistanceKernels.squaredEuclidean(q, floatVector(candidates[i].id), dimension)
            }
        case .dotProduct, .cosine:
            for i in candidates.indices {
                candidates[i].distance = -DistanceKernels.dot(q, floatVector(candidates[i].id), dimension)
            }
        }
        candidates.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.id < $1.id) }
        if candidates.count > k { candidates.removeLast(candidates.count - k) }
        return candidates
    }

    /// Makes the float vectors of nodes `0 ..< count` the ones at `mapped` inside `file`, and
    /// shrinks the heap buffer to the nodes after them (used while reading a quantised graph from
    /// a mapped file, before the graph is shared).
    func adoptMappedVectors(_ mapped: UnsafePointer<Float>, count: Int, in file: IndexFileBytes) {
        vectors.deallocate()
        vectors = Self.allocateVectors((capacity - count) * dimension)
        heapVectorBase = count
        mappedVectors = mapped
        mappedFile = file
    }
}
