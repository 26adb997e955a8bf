import CPrefetch

/// Which nodes a search may return (for example the rows matching other restrictions of a query).
/// Nodes that are refused are still traversed.
public protocol NodeFilter {
    func accepts(_ node: UInt32) -> Bool
}

/// Every node is acceptable.
public struct AcceptAllNodes: NodeFilter {
    @inlinable public init() {}
    @inlinable @inline(__always) public func accepts(_ node: UInt32) -> Bool { true }
}

extension HNSWGraph {
    /// The `k` nearest live nodes to `query` accepted by `filter`, closest first, found with a
    /// candidate list of `ef` (at least `k`; ``HNSWParameters/efSearch`` when nil): Algorithm 5 of
    /// the paper (greedy descent through the upper layers, then Algorithm 2 on the ground layer).
    ///
    /// When the walk finds fewer than `k` acceptable nodes (most nodes deleted or refused by the
    /// filter, or the acceptable ones out of its reach) the answer comes from ``exactSearch``, so
    /// a search never misses a node it could have returned.
    ///
    /// A quantised graph walks int8 codes and reranks its best `max(k, rerank)` candidates with
    /// exact float distances (`rerank` is ``HNSWParameters/rerank`` when nil); the distances
    /// returned are always the exact float ones.
    public func search<F: NodeFilter>(
        _ query: UnsafeBufferPointer<Float>, k: Int, ef: Int? = nil, rerank: Int? = nil, filter: F
    ) throws(VectorError) -> [Neighbor] {
        try similarity.validate(query, dimension: dimension)
        guard k > 0 else { return [] }
        let width = max(ef ?? parameters.efSearch, k)
        let (found, live) = lock.withReadLock { () -> ([Neighbor], Int) in
            guard nodeCount > 0 else { return ([], 0) }
            let scratch = pool.take(nodes: nodeCount)
            defer { pool.give(scratch) }
            prepare(query.baseAddress!, into: scratch.query)
            let live = nodeCount - deletedCount
            if let quantizer, let codes, let corrections {
                let correction = quantizer.encode(scratch.query, into: scratch.queryCodes)
                let q = UnsafePointer(scratch.queryCodes)
                switch similarity {
                case .euclidean:
                    let space = CodeEuclideanSpace(codes: codes, dimension: dimension, query: q, scale: quantizer.scale)
                    walk(space, ef: width, filter: filter, scratch: scratch)
                case .dotProduct, .cosine:
                    let space = CodeDotSpace(codes: codes, corrections: corrections, dimension: dimension,
                                             query: q, queryCorrection: correction, quantizer: quantizer)
                    walk(space, ef: width, filter: filter, scratch: scratch)
                }
                return (self.rerank(scratch, keep: max(k, min(rerank ?? parameters.rerank, 1 << 16)), k: k), live)
            }
            switch similarity {
            case .euclidean:
                walk(FloatSpace<SquaredEuclideanDistance>(vectors: vectors, dimension: dimension, query: scratch.query), ef: width, filter: filter, scratch: scratch)
            case .dotProduct, .cosine:
                walk(FloatSpace<NegativeDotDistance>(vectors: vectors, dimension: dimension, query: scratch.query), ef: width, filter: filter, scratch: scratch)
            }
            return (drainResults(scratch, k: k), live)
        }
        if found.count < k && found.count < live { return try exactSearch(query, k: k, filter: filter) }
        return found
    }

    /// ``search(_:k:ef:rerank:filter:)`` with no filter.
    public func search(_ query: [Float], k: Int, ef: Int? = nil, rerank: Int? = nil) throws(VectorError) -> [Neighbor] {
        try query.withUnsafeBufferPointer { (q) throws(VectorError) in try search(q, k: k, ef: ef, rerank: rerank, filter: AcceptAllNodes()) }
    }

    /// The exact `k` nearest live nodes accepted by `filter`, by comparing the query with every
    /// node: the reference for recall, and the better plan when a filter accepts few nodes.
    public func exactSearch<F: NodeFilter>(_ query: UnsafeBufferPointer<Float>, k: Int, filter: F) throws(VectorError) -> [Neighbor] {
        try similarity.validate(query, dimension: dimension)
        guard k > 0 else { return [] }
        return lock.withReadLock {
            let scratch = pool.take(nodes: nodeCount)
            defer { pool.give(scratch) }
            prepare(query.baseAddress!, into: scratch.query)
            scratch.results.removeAll()
            for node in 0 ..< UInt32(nodeCount) where !isDeleted(node) && filter.accepts(node) {
                let d = similarity.distance(scratch.query, floatVector(node), dimension)
                if scratch.results.count < k {
                    scratch.results.push(Neighbor(id: node, distance: d))
                } else if d < scratch.results.top.distance {
                    scratch.results.pop()
                    scratch.results.push(Neighbor(id: node, distance: d))
                }
            }
            return drainResults(scratch, k: k)
        }
    }

    // MARK: the search proper (callers hold the lock, shared or exclusive)

    /// Algorithm 5's walk: leaves the `ef` closest acceptable nodes by `space`'s distance in
    /// `scratch.results`.
    @inlinable
    func walk<S: GraphSpace, F: NodeFilter>(_ space: S, ef: Int, filter: F, scratch: SearchScratch) {
        var entry = Neighbor(id: entryPoint, distance: space.toQuery(entryPoint))
        var level = topLevel
        while level > 0 {
            entry = greedyClosest(space, from: entry, level: level)
            level -= 1
        }
        searchLayer(space, entry: entry, ef: ef, level: 0, filter: filter, excludeDeleted: true, scratch: scratch)
    }

    /// Takes the `k` closest out of the result heap, closest first.
    @usableFromInline
    func drainResults(_ scratch: SearchScratch, k: Int) -> [Neighbor] {
        while scratch.results.count > k { scratch.results.pop() }
        var out = [Neighbor](repeating: Neighbor(id: 0, distance: 0), count: scratch.results.count)
        var i = out.count - 1
        while !scratch.results.isEmpty {
            out[i] = scratch.results.pop()
            i -= 1
        }
        return out
    }

    /// Walks `level` from `start` to a local minimum of the distance to `q` (the ef = 1 search
    /// of Algorithm 5's upper layers).
    @inlinable
    func greedyClosest<S: GraphSpace>(_ space: S, from start: Neighbor, level: Int) -> Neighbor {
        var best = start
        var changed = true
        while changed {
            changed = false
            let l = links(best.id, level: level)
            let n = Int(l[0])
            var j = 1
            while j <= n {
                let e = l[j]
                let d = space.toQuery(e)
                if d < best.distance {
                    best = Neighbor(id: e, distance: d)
                    changed = true
                }
                j &+= 1
            }
        }
        return best
    }

    /// Algorithm 2 (SEARCH-LAYER): a best-first search of `level` from `entry` keeping the `ef`
    /// closest acceptable nodes in `scratch.results`. Deleted or filtered-out nodes are expanded
    /// like any other but never enter the results, so the search keeps going until it holds `ef`
    /// acceptable nodes or runs out of graph.
    @inlinable
    func searchLayer<S: GraphSpace, F: NodeFilter>(
        _ space: S, entry: Neighbor, ef: Int, level: Int, filter: F, excludeDeleted: Bool, scratch: SearchScratch
    ) {
        // Locals instead of class properties: no exclusivity checks or reloads in the loop.
        var visited = scratch.visited, frontier = scratch.frontier, results = scratch.results
        defer {
            scratch.visited = visited
            scratch.frontier = frontier
            scratch.results = results
        }
        let ground = UnsafePointer(groundLinks), slot = groundSlot
        let marks = UnsafePointer(deleted)
        let batch = scratch.batch
        let skipDeleted = excludeDeleted && deletedCount > 0
        @inline(__always) func returnable(_ n: UInt32) -> Bool {
            !(skipDeleted && marks[Int(n) >> 6] & (1 << UInt64(n & 63)) != 0) && filter.accepts(n)
        }
        visited.reset(nodes: nodeCount)
        frontier.removeAll()
        results.removeAll()
        _ = visited.testAndSet(entry.id)
        frontier.push(entry)
        var bound = Float.infinity
        if returnable(entry.id) {
            results.push(entry)
            bound = entry.distance
        }
        while !frontier.isEmpty {
            let current = frontier.top
            if current.distance > bound && results.count >= ef { break }
            frontier.pop()
            let l = level == 0 ? ground + Int(current.id) &* slot : UnsafePointer(links(current.id, level: level))
            // First the unvisited neighbours, each vector's first cache lines asked for at once so
            // the memory system fetches them in parallel; then their distances.
            let n = Int(l[0])
            var unvisited = 0
            var j = 1
            while j <= n {
                let e = l[j]
                j &+= 1
                if visited.testAndSet(e) { continue }
                batch[unvisited] = e
                unvisited &+= 1
                space.prefetch(e)
            }
            var b = 0
            while b < unvisited {
                let e = batch[b]
                b &+= 1
                let d = space.toQuery(e)
                if results.count < ef || d < bound {
                    frontier.push(Neighbor(id: e, distance: d))
                    basalt_prefetch(ground + Int(frontier.top.id) &* slot)
                    if returnable(e) {
                        results.push(Neighbor(id: e, distance: d))
                        if results.count > ef { results.pop() }
                        bound = results.top.distance
                    }
                }
            }
        }
    }
}
